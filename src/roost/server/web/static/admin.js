// Admin pages: what the API lets the signed-in user see about organizations, projects,
// classes, secrets (names only: values are write-only), runners and the audit log.
import { api, attempt, fill, get, h, post } from "./api.js";

const TABS = [
  ["orgs", "Organizations"], ["projects", "Projects"], ["classes", "Classes"],
  ["secrets", "Secrets"], ["runners", "Runners"], ["audit", "Audit log"],
];

function table(label, headers, rows) {
  if (!rows.length) return h("p", { class: "empty" }, `No ${label.toLowerCase()} to show.`);
  return h("table", { "aria-label": label },
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))));
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

function bar(used, total, label) {
  const share = total > 0 ? Math.min(100, Math.round((100 * used) / total)) : 0;
  return h("div", {},
    h("div", { class: "bar", role: "meter", "aria-label": label, "aria-valuenow": share, "aria-valuemin": 0, "aria-valuemax": 100 },
      h("div", { style: `width: ${share}%` })),
    h("small", { class: "muted" }, `${used} of ${total} (${share}%)`));
}

const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

function submitter(form, action) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => { await action(new FormData(form)); reload(); });
  });
  return form;
}

// The organization's policy: the API validates it (CIDRs, caps); the form only collects it.
function policyForm(org) {
  const egress = org.policy.egress_allow;
  return submitter(h("form", { class: "stack", "aria-label": `Policy of ${org.name}` },
    h("label", {}, "Widest port sharing", h("select", { name: "cap" },
      ["owner", "organization", "public"].map((a) => h("option", { value: a, selected: a === org.policy.max_port_admission }, a)))),
    h("label", {}, "Egress allowed to", h("small", {}, "IPv4 networks, comma-separated; empty: anywhere; 'none': nowhere"),
      h("input", { name: "egress", value: egress === null || egress === undefined ? "" : (egress.length ? egress.join(", ") : "none") })),
    h("button", { type: "submit" }, "Save policy")), async (data) => {
    const text = String(data.get("egress")).trim();
    const egressAllow = text === "" ? null : text === "none" ? [] : text.split(",").map((x) => x.trim()).filter(Boolean);
    await api("PATCH", `/organizations/${org.id}`, { policy: { ...org.policy, max_port_admission: data.get("cap"), egress_allow: egressAllow } });
  });
}

function memberForm(org) {
  return submitter(h("form", { class: "actions", "aria-label": `Add a member to ${org.name}` },
    h("label", {}, "User", h("input", { name: "user", required: true, autocomplete: "off" })),
    h("label", {}, "Role", h("select", { name: "role" }, ["member", "admin", "owner"].map((r) => h("option", { value: r }, r)))),
    h("button", { type: "submit" }, "Add member")),
  (data) => post(`/organizations/${org.id}/members`, { user: data.get("user"), role: data.get("role") }));
}

const VIEWS = {
  async orgs() {
    const orgs = await get("/organizations");
    const parts = [table("Organizations", ["Name", "Port sharing cap", "Egress", "Created"], orgs.map((o) => [
      o.name, o.policy.max_port_admission || "—",
      o.policy.egress_allow ? o.policy.egress_allow.join(", ") || "nowhere" : "anywhere", when(o.created_at)]))];
    for (const org of orgs) {
      const members = await get(`/organizations/${org.id}/members`).catch(() => []);
      const remove = (m) => h("button", {
        type: "button", class: "danger", "aria-label": `Remove ${m.user_name} from ${org.name}`,
        onclick: () => attempt(async () => { await api("DELETE", `/organizations/${org.id}/members/${m.user_id}`); reload(); }),
      }, "Remove");
      parts.push(h("h2", {}, `Members of ${org.name}`),
        table(`Members of ${org.name}`, ["User", "Role", "Since", ""], members.map((m) => [m.user_name, m.role, when(m.created_at), remove(m)])),
        memberForm(org), h("h2", {}, `Policy of ${org.name}`), policyForm(org));
    }
    return parts;
  },
  async projects() {
    const page = await get("/projects");
    return table("Projects", ["Name", "Repository", "Created"], page.items.map((p) => [p.name, p.repo_url || "—", when(p.created_at)]));
  },
  async classes() {
    const items = await get("/classes");
    return table("Classes", ["Name", "CPU", "Memory (MiB)", "Disk (GiB)", "Description"],
      items.map((c) => [c.name, c.resources.cpu, c.resources.memory_mib, c.resources.disk_gib, c.description]));
  },
  async secrets() {
    const items = await get("/secrets");
    const remove = (s) => h("button", {
      type: "button", class: "danger", "aria-label": `Delete secret ${s.name}`,
      onclick: () => attempt(async () => { await api("DELETE", `/secrets/${s.id}`); reload(); }),
    }, "Delete");
    // Values are write-only: the API never returns them, and this form never shows one.
    const form = submitter(h("form", { class: "stack", "aria-label": "Set a secret" },
      h("label", {}, "Name", h("input", { name: "name", required: true, autocomplete: "off" })),
      h("label", {}, "Value", h("small", {}, "write-only: it cannot be read back here"),
        h("input", { name: "value", type: "password", required: true, autocomplete: "new-password" })),
      h("label", {}, "As environment variable", h("input", { name: "env_var", autocomplete: "off" })),
      h("button", { type: "submit" }, "Set secret (yours)")),
    (data) => post("/secrets", { name: data.get("name"), value: data.get("value"), scope: "user", env_var: data.get("env_var") || null }));
    return [table("Secrets", ["Name", "Scope", "As variable", "As file", ""],
      items.map((s) => [s.name, s.scope, s.env_var || "—", s.file_path || "—", remove(s)])), h("h2", {}, "Set a secret"), form];
  },
  async runners() {
    const { items } = await get("/runners");
    return table("Runners", ["Name", "State", "Last heartbeat", "CPU", "Memory (MiB)", "Environments"],
      items.map((r) => [r.name, r.state, when(r.last_heartbeat),
        bar(r.allocated.cpu, r.capacity.cpu, `CPU of ${r.name}`),
        bar(r.allocated.memory_mib, r.capacity.memory_mib, `Memory of ${r.name}`),
        bar(r.allocated.environments, r.capacity.environments, `Environments on ${r.name}`)]));
  },
  async audit() {
    const page = await get("/audit?limit=200");
    const filter = h("input", { type: "search", "aria-label": "Filter the audit log", placeholder: "action, actor, target or outcome" });
    const body = h("div");
    const draw = () => {
      const q = filter.value.toLowerCase();
      const rows = page.items.filter((e) => !q || [e.action, e.actor, e.target_id, e.outcome].join(" ").toLowerCase().includes(q));
      body.replaceChildren(table("Audit log", ["When", "Actor", "Action", "Target", "Outcome"],
        rows.map((e) => [when(e.at), e.actor, e.action, `${e.target_kind} ${e.target_id}`, e.outcome])));
    };
    filter.addEventListener("input", draw);
    draw();
    return [h("label", {}, "Filter", filter), body];
  },
};

export async function adminView(main, tab = "orgs") {
  const view = VIEWS[tab] ? tab : "orgs";
  const nav = h("nav", { class: "actions", "aria-label": "Admin sections" },
    TABS.map(([key, label]) => h("a", { class: key === view ? "button primary" : "button", href: `#/admin/${key}`, "aria-current": key === view ? "page" : null }, label)));
  fill(main, h("h1", {}, "Admin"), nav, h("p", {}, "Loading…"));
  const content = await attempt(() => VIEWS[view]());
  fill(main, h("h1", {}, "Admin"), nav, h("div", {}, content || []));
}
