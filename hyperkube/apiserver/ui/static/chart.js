// Tiny SVG line charts of CPU and memory over time, drawn by hand (no library).

const SVG = "http://www.w3.org/2000/svg";

function element(name, attrs = {}) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

export function formatCPU(cores) {
  if (cores == null) return "–";
  return cores >= 1 ? `${cores.toFixed(2)} cores` : `${Math.round(cores * 1000)}m`;
}

export function formatBytes(bytes) {
  if (bytes == null) return "–";
  const units = ["B", "Ki", "Mi", "Gi", "Ti"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return `${bytes >= 100 || i === 0 ? Math.round(bytes) : bytes.toFixed(1)}${units[i]}`;
}

// points: [{t (ms), v}]; returns an <svg role="img"> labelled with what it shows.
export function lineChart(points, { label, format, width = 120, height = 28, axis = false }) {
  const last = points.length ? points[points.length - 1].v : null;
  const svg = element("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "chart",
    "aria-label": `${label}: ${format(last)}` });
  const title = element("title");
  title.textContent = `${label}: ${format(last)} (${points.length} samples)`;
  svg.append(title);
  const pad = axis ? 14 : 2;
  svg.append(element("rect", { x: 0, y: 0, width, height, class: "chart-bg", rx: 3 }));
  if (points.length === 0) return svg;
  const t0 = points[0].t, t1 = Math.max(points[points.length - 1].t, t0 + 1);
  const top = Math.max(...points.map((p) => p.v)) * 1.15 || 1;
  const x = (t) => 2 + ((t - t0) / (t1 - t0)) * (width - 4);
  const y = (v) => height - pad - (v / top) * (height - pad - 3);
  const coords = points.length === 1 ? [[2, y(points[0].v)], [width - 2, y(points[0].v)]]
    : points.map((p) => [x(p.t), y(p.v)]);
  const line = coords.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ");
  svg.append(element("polygon", { points: `2,${height - pad} ${line} ${width - 2},${height - pad}`, class: "chart-area" }));
  svg.append(element("polyline", { points: line, class: "chart-line" }));
  if (axis) {
    const caption = element("text", { x: 4, y: height - 3, class: "chart-text" });
    caption.textContent = `${label} ${format(last)} · max ${format(top / 1.15)} · ${points.length} samples`;
    svg.append(caption);
  }
  return svg;
}
