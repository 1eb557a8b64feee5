// The page: sign-in, then a hash router over the views.
import { ApiError, api, fill, flash, get, h, setCsrf } from "./api.js";
import { envDetail, envList, newEnv, stopWatching } from "./envs.js";
import { terminalView, closeTerminal } from "./terminal.js";
import { adminView } from "./admin.js";

const main = document.getElementById("main");
export let session = null;

async function signInFromLink(code) {
  history.replaceState(null, "", location.pathname + "#/");
  await api("POST", "/web/sign-in", { code });
}

async function loadSession() {
  try {
    session = await get("/web/session");
    setCsrf(session.csrf_token);
    return true;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return false;
    throw error;
  }
}

async function signInPage(message) {
  const config = await get("/web/config").catch(() => ({ oidc: false }));
  fill(main, h("section", { class: "signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to Roost"),
    message ? h("p", { role: "alert", class: "cond-failed" }, message) : null,
    config.oidc
      ? h("p", {}, h("a", { class: "button primary", href: "/web/oidc/start", id: "oidc-signin" },
          `Sign in with ${config.oidc_name}`))
      : null,
    h("p", {}, "Or run ", h("code", {}, "roost login --web"),
      " on a machine where the roost CLI is logged in, and open the link it prints."),
  ));
}

function header() {
  document.getElementById("nav").hidden = false;
  document.getElementById("who").textContent = session.user_name + (session.is_admin ? " (admin)" : "");
  const out = document.getElementById("signout");
  out.hidden = false;
  out.onclick = async () => {
    await api("DELETE", "/web/session").catch(() => null);
    location.replace("/");
  };
}

async function route() {
  stopWatching();
  closeTerminal();
  flash("");
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const [page, id, sub] = parts;
  // Each page draws into a node of its own: a slow page that finishes after the person moved
  // on draws into a detached node (and its watch stops), never over the page now shown.
  const view = h("div");
  fill(main, view);
  if (!page) return envList(view);
  if (page === "new") return newEnv(view);
  if (page === "env" && id && sub === "terminal") return terminalView(view, id);
  if (page === "env" && id) return envDetail(view, id);
  if (page === "admin") return adminView(view, id);
  fill(view, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to environments")));
}

async function boot() {
  const hash = location.hash;
  let problem = "";
  if (hash.startsWith("#login=")) {
    try { await signInFromLink(decodeURIComponent(hash.slice(7))); } catch (error) { problem = error.message; }
  } else if (hash.startsWith("#signin-error=")) {
    problem = decodeURIComponent(hash.slice(14));
    history.replaceState(null, "", location.pathname);
  }
  if (!(await loadSession())) return signInPage(problem);
  header();
  window.addEventListener("hashchange", () => { show().then(() => main.focus()); });
  await show();
}

// A page that cannot load says why, in the page and in the alert region.
async function show() {
  try {
    await route();
  } catch (error) {
    flash(error.message);
    fill(main, h("h1", {}, error.status === 404 ? "Not found" : "Something went wrong"),
      h("p", {}, error.message), h("p", {}, h("a", { href: "#/" }, "Back to environments")));
  }
}

boot().catch((error) => flash(error.message));
