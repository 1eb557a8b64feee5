// Environments: the live list (watch API), creating one, and one environment's page.
import { api, attempt, fill, get, h, post } from "./api.js";
import { startTimeline, usageCharts } from "./charts.js";

let watcher = null;
const BUSY = new Set(["pending", "creating", "starting", "stopping", "updating", "deleting"]);

export function stopWatching() {
  if (watcher) watcher.abort();
  watcher = null;
}

// Long-poll /watch from `version`; onEvent gets each event, onReset is called when the
// version is too old (410) and the caller must list again.
async function watch(node, version, onEvent, onReset) {
  if (!node.isConnected) return;
  stopWatching();
  const control = new AbortController();
  watcher = control;
  let since = version;
  while (!control.signal.aborted && node.isConnected) {
    try {
      const response = await fetch(`/api/v1/watch?kind=environment&since=${since}&timeout=25`,
        { credentials: "same-origin", signal: control.signal });
      if (response.status === 410) { onReset(); return; }
      const doc = await response.json();
      if (!response.ok) throw new Error(doc.error ? doc.error.message : response.statusText);
      for (const event of doc.events) onEvent(event);
      since = doc.resource_version;
    } catch (error) {
      if (control.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

export function phaseBadge(env) {
  const phase = env.status.phase;
  return h("span", { class: `phase phase-${phase}`, "data-phase": phase }, phase);
}

function conditionsSummary(env) {
  const items = Object.entries(env.status.conditions || {})
    .filter(([, c]) => c.phase !== "ready")
    .map(([name, c]) => h("div", { class: `cond-${c.phase}` }, `${name}: ${c.phase}${c.message ? " — " + c.message : ""}`));
  return items.length ? items : h("span", { class: "muted" }, env.status.message || "all ready");
}

function envRow(env) {
  const id = env.metadata.id;
  return h("tr", { "data-env": id },
    h("td", {}, h("a", { href: `#/env/${id}` }, env.metadata.name)),
    h("td", {}, phaseBadge(env)),
    h("td", {}, conditionsSummary(env)),
    h("td", {}, env.spec.content.repo_url || h("span", { class: "muted" }, "empty workspace")),
    h("td", {}, lifecycleButtons(env)));
}

export function lifecycleButtons(env) {
  const id = env.metadata.id;
  const name = env.metadata.name;
  const desired = env.spec.desired_phase;
  const act = (verb) => () => attempt(() => post(`/environments/${id}/${verb}`));
  return h("div", { class: "actions" },
    desired === "running"
      ? h("button", { type: "button", onclick: act("stop"), "aria-label": `Stop ${name}` }, "Stop")
      : h("button", { type: "button", onclick: act("start"), "aria-label": `Start ${name}` }, "Start"),
    env.status.phase === "running"
      ? h("a", { class: "button", href: `#/env/${id}/terminal`, "aria-label": `Terminal in ${name}` }, "Terminal")
      : null,
    h("button", {
      type: "button", class: "danger", "aria-label": `Delete ${name}`,
      onclick: () => { if (confirm(`Delete ${name}? Its workspace is deleted too.`)) attempt(() => api("DELETE", `/environments/${id}`)); },
    }, "Delete"));
}

export async function envList(main) {
  const page = await get("/environments");
  const rows = new Map();
  const tbody = h("tbody");
  const empty = h("div", { class: "empty" },
    h("p", {}, "You have no environments yet."),
    h("a", { class: "button primary", href: "#/new" }, "Create your first environment"));
  const table = h("table", { "aria-label": "Environments" },
    h("thead", {}, h("tr", {}, ["Name", "Phase", "Conditions", "Repository", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    tbody);
  const put = (env) => {
    const row = envRow(env);
    const old = rows.get(env.metadata.id);
    if (old) old.replaceWith(row); else tbody.append(row);
    rows.set(env.metadata.id, row);
  };
  const show = () => { table.hidden = rows.size === 0; empty.hidden = rows.size > 0; };
  for (const env of page.items) if (env.status.phase !== "deleted") put(env);
  fill(main, 
    h("div", { class: "actions" }, h("h1", {}, "Environments"), h("a", { class: "button primary", href: "#/new" }, "New environment")),
    empty, table);
  show();
  watch(main, page.resource_version, (event) => {
    const gone = event.type === "DELETED" || !event.object || event.object.status.phase === "deleted";
    if (gone) { rows.get(event.object_id)?.remove(); rows.delete(event.object_id); } else put(event.object);
    show();
  }, () => envList(main));
}

async function options(path, value, label) {
  const items = await get(path).catch(() => []);
  return (Array.isArray(items) ? items : items.items || []).map((item) => h("option", { value: value(item) }, label(item)));
}

export async function newEnv(main) {
  const projects = await options("/projects", (p) => p.name || p.id, (p) => p.name);
  const classes = await options("/classes", (c) => c.name, (c) => c.name);
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "stack", "aria-labelledby": "new-title" },
    h("label", {}, "Name", h("small", {}, "optional; lowercase letters, digits and dashes"),
      h("input", { name: "name", autocomplete: "off", pattern: "[a-z0-9]([a-z0-9-]*[a-z0-9])?" })),
    h("label", {}, "Repository URL", h("small", {}, "empty for an empty workspace"),
      h("input", { name: "repo", type: "text", autocomplete: "off", placeholder: "https://git.example.com/team/app.git" })),
    h("label", {}, "Project", h("small", {}, "its repository and settings are used when no URL is given"),
      h("select", { name: "project" }, h("option", { value: "" }, "— none —"), projects)),
    h("label", {}, "Class", h("select", { name: "class" }, classes.length ? classes : h("option", { value: "default" }, "default"))),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create"), h("a", { class: "button", href: "#/" }, "Cancel")),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { spec: { class: data.get("class") || "default", content: {} } };
    if (data.get("name")) body.name = data.get("name");
    if (data.get("project")) body.project = data.get("project");
    if (data.get("repo")) body.spec.content.repo_url = data.get("repo");
    form.querySelector("button[type=submit]").disabled = true;
    fill(status, h("p", {}, "Creating…"), h("div", { class: "progress", role: "progressbar", "aria-label": "Creating" }, h("div")));
    const env = await attempt(() => post("/environments", body));
    if (env) location.hash = `#/env/${env.metadata.id}`;
    else { fill(status, ); form.querySelector("button[type=submit]").disabled = false; }
  });
  fill(main, h("h1", { id: "new-title" }, "New environment"), form);
  form.querySelector("input").focus();
}

function copyable(label, text) {
  const button = h("button", { type: "button", "aria-label": `Copy ${label}` }, "Copy");
  button.addEventListener("click", async () => {
    await navigator.clipboard.writeText(text).catch(() => null);
    button.textContent = "Copied";
  });
  return h("div", { class: "copy" }, h("code", { "aria-label": label }, text), button);
}

function workspacePath(env) {
  const url = env.spec.content.repo_url;
  if (!url) return "/workspaces/workspace";
  const last = url.replace(/\/+$/, "").split(/[/:]/).pop().replace(/\.git$/, "");
  return `/workspaces/${last || "workspace"}`;
}

function conditionsTable(env) {
  const entries = Object.entries(env.status.conditions || {});
  if (!entries.length) return h("p", { class: "muted" }, "No conditions reported yet.");
  return h("table", { "aria-label": "Conditions" },
    h("thead", {}, h("tr", {}, h("th", {}, "Part"), h("th", {}, "State"), h("th", {}, "Message"), h("th", {}, "Since"))),
    h("tbody", {}, entries.map(([name, c]) => h("tr", {},
      h("td", {}, name), h("td", { class: `cond-${c.phase}` }, c.phase), h("td", {}, c.message || ""),
      h("td", {}, c.updated_at ? new Date(c.updated_at).toLocaleString() : "")))));
}

// Ports live in the spec: read, change, write back with the version read (409 on a race).
function writePorts(id, change) {
  return attempt(async () => {
    const current = await get(`/environments/${id}`);
    const spec = { ...current.spec, ports: change(current.spec.ports) };
    await api("PUT", `/environments/${id}/spec`, { spec });
  });
}

function portsTable(env) {
  const id = env.metadata.id;
  const urls = (env.status.endpoints || {}).ports || {};
  const rows = env.spec.ports.map((p) => h("tr", { "data-port": p.port },
    h("td", {}, String(p.port)), h("td", {}, p.name || ""),
    h("td", {}, h("select", {
      "aria-label": `Admission of port ${p.port}`,
      onchange: (e) => writePorts(id, (ports) => ports.map((q) => (q.port === p.port ? { ...q, admission: e.target.value } : q))),
    }, ["owner", "organization", "public"].map((a) => h("option", { value: a, selected: a === p.admission }, a)))),
    h("td", {}, urls[String(p.port)] || h("span", { class: "muted" }, "not published yet")),
    h("td", {}, h("div", { class: "actions" },
      h("button", {
        type: "button", "aria-label": `Open port ${p.port}`,
        onclick: () => attempt(async () => {
          const link = await post(`/environments/${id}/ports/${p.port}/login`);
          window.open(link.path_url, "_blank", "noopener");
        }),
      }, "Open"),
      h("button", { type: "button", class: "danger", "aria-label": `Close port ${p.port}`, onclick: () => writePorts(id, (ports) => ports.filter((q) => q.port !== p.port)) }, "Close")))));
  if (!rows.length) return h("p", { class: "muted" }, "No ports are open.");
  return h("table", { "aria-label": "Ports" },
    h("thead", {}, h("tr", {}, ["Port", "Name", "Admission", "URL", "Actions"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows));
}

function portForm(id) {
  const form = h("form", { class: "actions", "aria-label": "Open a port" },
    h("label", {}, "Port number", h("input", { name: "port", type: "number", min: 1, max: 65535, required: true })),
    h("label", {}, "Admission", h("select", { name: "admission" }, ["owner", "organization", "public"].map((a) => h("option", { value: a }, a)))),
    h("button", { type: "submit" }, "Open port"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const port = Number(data.get("port"));
    writePorts(id, (ports) => [...ports.filter((q) => q.port !== port), { port, admission: data.get("admission"), name: "" }]);
    form.reset();
  });
  return form;
}

async function usageSection(id) {
  const doc = await get(`/environments/${id}/readings`).catch(() => ({ items: [] }));
  const charts = usageCharts(doc.items);
  if (!charts.length) return h("p", { class: "muted" }, "No readings yet: the runner sends them every few seconds while the environment runs.");
  return h("div", { class: "charts" }, charts);
}

async function backupsSection(id) {
  const items = await get(`/environments/${id}/backups`).catch(() => null);
  const list = Array.isArray(items) ? items : (items && items.items) || [];
  if (!list.length) return h("p", { class: "muted" }, "No backups yet.");
  return h("table", { "aria-label": "Backups" },
    h("thead", {}, h("tr", {}, h("th", {}, "Backup"), h("th", {}, "State"), h("th", {}, "Taken"))),
    h("tbody", {}, list.map((b) => h("tr", {}, h("td", {}, b.id), h("td", {}, b.state || b.status || ""),
      h("td", {}, b.created_at ? new Date(b.created_at).toLocaleString() : "")))));
}

// Lifecycle-hook and automation logs, read from the runner with a one-use ticket (as
// `roost env logs` does); the runner allows this cross-origin read (the ticket is the credential).
function logsPanel(id) {
  const out = h("pre", { class: "log", "aria-label": "Log", tabindex: 0, hidden: true });
  const form = h("form", { class: "actions", "aria-label": "Read logs" },
    h("label", {}, "Step", h("small", {}, "empty: the latest log and the list of logs"),
      h("input", { name: "step", autocomplete: "off", placeholder: "postCreateCommand" })),
    h("button", { type: "submit" }, "Show log"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const step = new FormData(form).get("step");
    attempt(async () => {
      const ticket = await post(`/environments/${id}/exec?purpose=logs`);
      const query = step ? `?step=${encodeURIComponent(step)}` : "";
      const response = await fetch(ticket.url + query, { headers: { Authorization: `Bearer ${ticket.ticket}` } });
      out.textContent = await response.text();
      out.hidden = false;
    });
  });
  return [h("h2", {}, "Logs"), form, out];
}

// Calls the environment's runner like `roost env automations|task|service`: a ticket each.
async function runnerCall(id, purpose, method, suffix = "") {
  const ticket = await post(`/environments/${id}/exec?purpose=${purpose}`);
  const response = await fetch(ticket.url + suffix, { method, headers: { Authorization: `Bearer ${ticket.ticket}` } });
  const doc = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((doc.error && doc.error.message) || response.statusText);
  return doc;
}

function automationsPanel(id) {
  const box = h("div", { "aria-live": "polite" });
  const load = () => attempt(async () => {
    const doc = await runnerCall(id, "automations", "GET");
    const action = (item) => {
      const verbs = item.kind === "task" ? [["run", "Run"]]
        : ["running", "starting"].includes(item.phase) ? [["stop", "Stop"]] : [["start", "Start"]];
      return verbs.map(([verb, label]) => h("button", {
        type: "button", "aria-label": `${label} ${item.kind} ${item.id}`,
        onclick: () => attempt(async () => { await runnerCall(id, "automations", "POST", `/${item.kind}s/${item.id}/${verb}`); await load(); }),
      }, label));
    };
    const items = [...doc.services, ...doc.tasks];
    fill(box, items.length ? h("table", { "aria-label": "Automations" },
      h("thead", {}, h("tr", {}, ["Kind", "ID", "Name", "State", "Message", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, items.map((i) => h("tr", {}, h("td", {}, i.kind), h("td", {}, i.id), h("td", {}, i.name),
        h("td", {}, i.phase), h("td", {}, i.message), h("td", {}, action(i))))))
      : h("p", { class: "muted" }, "No services or tasks."));
    // A task that runs is looked at again until it ends (each look costs a ticket: no faster).
    if (box.isConnected && doc.tasks.some((t) => t.phase === "running")) setTimeout(load, 1500);
  });
  return [h("h2", {}, "Automations"),
    h("button", { type: "button", onclick: load }, "Show services and tasks"), box];
}

export async function envDetail(main, id) {
  // Re-drawn on every change the watch brings; the port form is not, so typing survives.
  const top = h("div");
  const bottom = h("div");
  const render = async (env) => {
    const name = env.metadata.name;
    const ssh = `ssh ${name}.roost`;
    const vscode = `vscode://vscode-remote/ssh-remote+${name}.roost${workspacePath(env)}`;
    const failed = env.status.phase === "failed" || Object.values(env.status.conditions || {}).some((c) => c.phase === "failed");
    fill(top,
      h("p", {}, h("a", { href: "#/" }, "← Environments")),
      h("h1", {}, name, " ", phaseBadge(env)),
      BUSY.has(env.status.phase) ? h("div", { class: "progress", role: "progressbar", "aria-label": env.status.phase }, h("div")) : null,
      env.status.message && env.status.message !== env.status.phase
        ? h("p", { class: failed ? "cond-failed" : "muted", role: failed ? "alert" : null }, env.status.message) : null,
      lifecycleButtons(env),
      h("h2", {}, "Connect"),
      h("p", {}, h("a", { class: "button", href: vscode }, "Open in VS Code"),
        " ", h("span", { class: "muted" }, "(after ", h("code", {}, "roost config-ssh"), " on your machine)")),
      copyable("ssh command", ssh),
      h("h2", {}, "Conditions"), conditionsTable(env),
      h("h2", {}, "Start timeline"), startTimeline(env) || h("p", { class: "muted" }, "Not started yet."),
      h("h2", {}, "Ports"), portsTable(env));
    fill(bottom,
      h("h2", {}, "Usage (last hours)"), await usageSection(id),
      h("h2", {}, "Details"),
      h("table", { "aria-label": "Details" }, h("tbody", {},
        [["ID", env.metadata.id], ["Runner", env.status.runner_id || "—"], ["Created", new Date(env.metadata.created_at).toLocaleString()],
         ["Last activity", env.status.last_activity ? new Date(env.status.last_activity).toLocaleString() : "—"]]
          .map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v))))),
      h("h2", {}, "Backups"), await backupsSection(id),
      h("h2", {}, "Spec"), h("pre", { class: "log", "aria-label": "Spec" }, JSON.stringify(env.spec, null, 2)));
  };
  const now = await get("/watch?kind=environment&timeout=0");  // the version to watch from
  const env = await get(`/environments/${id}`);
  await render(env);
  fill(main, top, portForm(id), logsPanel(id), automationsPanel(id), bottom);
  watch(main, now.resource_version, (event) => {
    if (event.object_id !== id) return;
    if (!event.object || event.object.status.phase === "deleted") { location.hash = "#/"; return; }
    render(event.object);
  }, () => envDetail(main, id));
}
