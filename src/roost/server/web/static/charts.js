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
  const scheduled = (env.status.conditions || {}).scheduled;
  const since = scheduled && scheduled.updated_at ? Date.parse(scheduled.updated_at) : 0;
  const parts = Object.entries(env.status.conditions || {})
    .filter(([, c]) => c.updated_at && Date.parse(c.updated_at) >= since)  // this start's only
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

// A line over time: points are [ms, value]; `format` writes a value for people.
export function lineChart(label, points, format, max) {
  if (points.length < 2) return null;
  const width = 320, height = 90, pad = 4;
  const t0 = points[0][0], t1 = points[points.length - 1][0];
  // Scaled to what was used (a limit far above would flatten the line); the limit is in words.
  const top = Math.max(...points.map((p) => p[1]), 1e-9) * 1.15;
  const x = (t) => pad + ((width - 2 * pad) * (t - t0)) / Math.max(1, t1 - t0);
  const y = (v) => height - pad - ((height - 2 * pad) * v) / top;
  const last = points[points.length - 1][1];
  const peak = Math.max(...points.map((p) => p[1]));
  const minutes = Math.round((t1 - t0) / 60000);
  const svg = el("svg", {
    viewBox: `0 0 ${width} ${height + 16}`, class: "spark", role: "img",
    "aria-label": `${label}: now ${format(last)}, peak ${format(peak)} over ${minutes} min`,
  });
  svg.append(
    el("rect", { x: 0, y: 0, width, height, fill: "#fff", stroke: "#d9dde5" }),
    el("polyline", {
      points: points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
      fill: "none", stroke: "#2456c9", "stroke-width": 1.5,
    }),
    el("text", { x: 2, y: height + 13, "font-size": 11, fill: "#1d2330" }, `${label}: ${format(last)} (peak ${format(peak)}${max ? `, limit ${format(max)}` : ""})`),
  );
  return svg;
}

const MIB = 1024 * 1024;
const mib = (v) => (v >= 1024 * MIB ? `${(v / 1024 / MIB).toFixed(1)} GiB` : `${Math.round(v / MIB)} MiB`);

// CPU (cores, from the growth of cumulative CPU time), memory and disk over the kept hours.
export function usageCharts(readings) {
  const at = (r) => Date.parse(r.at);
  const cpu = [];
  for (let i = 1; i < readings.length; i++) {
    const dt = (at(readings[i]) - at(readings[i - 1])) / 1000;
    const used = (readings[i].cpu_usage_ns - readings[i - 1].cpu_usage_ns) / 1e9;
    if (dt > 0 && used >= 0) cpu.push([at(readings[i]), used / dt]);  // a restart resets the counter
  }
  const last = readings[readings.length - 1] || {};
  return [
    lineChart("CPU", cpu, (v) => `${v.toFixed(2)} cores`),
    lineChart("Memory", readings.map((r) => [at(r), r.memory_bytes]), mib, last.memory_limit_bytes || 0),
    lineChart("Disk", readings.map((r) => [at(r), r.disk_used_bytes]), mib, last.disk_limit_bytes || 0),
  ].filter(Boolean);
}
