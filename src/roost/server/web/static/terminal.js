// A terminal in the browser: xterm.js over the runner's exec WebSocket, the same stream
// `roost env exec` uses. The plane mints a one-use ticket per terminal; the browser presents it
// as a WebSocket subprotocol (browsers cannot set an Authorization header on a WebSocket).
import { attempt, fill, get, h, post } from "./api.js";

let current = null;

export function closeTerminal() {
  if (current) current.close();
  current = null;
}

const encoder = new TextEncoder();

function frame(text) { return JSON.stringify(text); }

export async function terminalView(main, id) {
  const env = await get(`/environments/${id}`);
  const box = h("div", { id: "terminal", role: "region", "aria-label": `Terminal in ${env.metadata.name}` });
  const state = h("p", { class: "muted", "aria-live": "polite", id: "terminal-state" }, "Connecting…");
  fill(main, 
    h("p", {}, h("a", { href: `#/env/${id}` }, `← ${env.metadata.name}`)),
    h("h1", {}, `Terminal: ${env.metadata.name}`), state, box);
  const ticket = await attempt(() => post(`/environments/${id}/exec`));
  if (!ticket) { state.textContent = "Not connected."; return; }
  if (!box.isConnected) return;  // the person went elsewhere meanwhile
  const term = new window.Terminal({ cursorBlink: true, convertEol: false, fontSize: 14, scrollback: 5000 });
  const fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const ws = new WebSocket(ticket.url, ["roost.exec", `roost.ticket.${ticket.ticket}`]);
  ws.binaryType = "arraybuffer";
  const decoder = new TextDecoder("utf-8");
  const resize = () => {
    fit.fit();
    if (ws.readyState === WebSocket.OPEN) ws.send(frame({ resize: [term.rows, term.cols] }));
  };
  ws.onopen = () => {
    ws.send(frame({ argv: ["/bin/sh", "-c", "exec bash -l 2>/dev/null || exec sh -l"], tty: true,
      rows: term.rows, cols: term.cols, env: { TERM: "xterm-256color", LANG: "C.UTF-8" } }));
    state.textContent = "Connected.";
    term.focus();
  };
  ws.onmessage = (event) => {
    if (typeof event.data === "string") {
      const doc = JSON.parse(event.data);
      if ("exit" in doc) state.textContent = `The shell exited (status ${doc.exit}).`;
      if ("error" in doc) state.textContent = `Failed: ${doc.error}`;
      return;
    }
    const bytes = new Uint8Array(event.data);
    term.write(decoder.decode(bytes.subarray(1), { stream: true }));
  };
  ws.onclose = () => { if (state.textContent === "Connected.") state.textContent = "Disconnected."; };
  ws.onerror = () => { state.textContent = `Cannot reach the environment's runner at ${ticket.url}.`; };
  const input = term.onData((data) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(encoder.encode(data));
  });
  window.addEventListener("resize", resize);
  term.onResize(() => { if (ws.readyState === WebSocket.OPEN) ws.send(frame({ resize: [term.rows, term.cols] })); });
  current = {
    close() {
      window.removeEventListener("resize", resize);
      input.dispose();
      ws.close();
      term.dispose();
    },
  };
}
