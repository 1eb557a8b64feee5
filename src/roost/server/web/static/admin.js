// Admin pages: what the API lets the signed-in user see about organizations, projects,
// classes, secrets (names only: values are write-only), runners and the audit log.
import { attempt, fill, get, h } from "./api.js";

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

const VIEWS = {
  async orgs() {
    const orgs = await get("/organizations");
    const parts = [table("Organizations", ["Name", "Port sharing cap", "Egress", "Created"], orgs.map((o) => [
      o.name, o.policy.max_port_admission || "—",
      o.policy.egress_allow ? o.policy.egress_allow.join(", ") : "anywhere", when(o.created_at)]))];
    for (const org of orgs) {
      const members = await get(`/organizations/${org.id}/members`).catch(() => []);
      parts.push(h("h2", {}, `Members of ${org.name}`),
        table(`Members of ${org.name}`, ["User", "Role", "Since"], members.map((m) => [m.user_name, m.role, when(m.created_at)])));
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
    return table("Secrets", ["Name", "Scope", "As variable", "As file"],
      items.map((s) => [s.name, s.scope, s.env_var || "—", s.file_path || "—"]));
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
