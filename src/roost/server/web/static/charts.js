// Small inline-SVG charts (no library: a few rectangles and labels).
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// When each part of the environment last became what it is, from the first of them: the
// timeline of its last start (scheduled → content → machine → ...), as horizontal bars.
export function startTimeline(env) {
  const parts = Object.entries(env.status.conditions || {})
    .filter(([, c]) => c.updated_at)
    .map(([name, c]) => ({ name, phase: c.phase, at: Date.parse(c.updated_at) }))
    .sort((a, b) => a.at - b.at);
  if (parts.length < 2) return null;
  const origin = parts[0].at;
  const span = Math.max(1, parts[parts.length - 1].at - origin);
  const row = 22, left = 110, width = 560;
  const svg = el("svg", {
    viewBox: `0 0 ${left + width + 70} ${row * parts.length + 8}`, class: "chart", role: "img",
    "aria-label": `Start timeline: ${parts.map((p) => `${p.name} at +${((p.at - origin) / 1000).toFixed(1)} s`).join(", ")}`,
  });
  parts.forEach((p, i) => {
    const y = 4 + i * row;
    const seconds = (p.at - origin) / 1000;
    const w = Math.max(2, (width * (p.at - origin)) / span);
    svg.append(
      el("text", { x: 0, y: y + 14, "font-size": 12, fill: "#1d2330" }, p.name),
      el("rect", { x: left, y, width: w, height: 16, rx: 2, fill: p.phase === "failed" ? "#b42318" : "#2456c9" }),
      el("text", { x: left + w + 6, y: y + 13, "font-size": 11, fill: "#5b6475" }, `+${seconds.toFixed(1)} s`),
    );
  });
  return svg;
}
