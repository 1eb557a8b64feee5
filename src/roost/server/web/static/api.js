// The dashboard's only door to the plane: the same /api/v1 as the CLI, signed in by the
// session cookie; every change carries the session's CSRF token.
let csrf = "";

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export function setCsrf(token) { csrf = token; }

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  const response = await fetch("/api/v1" + path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const doc = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = doc.error || {};
    throw new ApiError(response.status, error.code || "http_error", error.message || response.statusText);
  }
  return doc;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);

// Build DOM nodes without HTML strings (nothing the API returns is ever parsed as markup).
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function flash(message) {
  document.getElementById("flash").textContent = message || "";
}

export async function attempt(fn) {
  try { flash(""); return await fn(); } catch (error) { flash(error.message); return undefined; }
}

// replaceChildren, but skipping empty parts and flattening lists, as h() does.
export function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}
