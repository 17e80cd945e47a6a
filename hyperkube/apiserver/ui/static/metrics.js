// Polls metrics.k8s.io/v1beta1 (NodeMetrics, PodMetrics) every 10 s and keeps a history in
// the page, as kubedash did from heapster. When the group is not served the state says so.

import { APIError, get } from "./api.js";

// every 10 s, or every ?interval=<seconds> given in the page's URL
export const INTERVAL = 1000 * (Number(new URLSearchParams(location.search).get("interval")) || 10);
const KEEP = 90;  // samples per object: 15 minutes at 10 s

const CPU_UNITS = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9 };
const MEMORY_UNITS = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, m: 1e-3, "": 1 };

// A Kubernetes quantity as a number (cores for CPU, bytes for memory).
export function quantity(text) {
  const match = /^([+-]?[\d.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(String(text || "0").trim());
  if (!match) return 0;
  const [, number, suffix] = match;
  const scale = MEMORY_UNITS[suffix] ?? CPU_UNITS[suffix] ?? 1;
  return Number(number) * scale;
}

export class Metrics {
  constructor(onChange) {
    this.onChange = onChange;
    this.history = new Map();  // "node/<name>" or "pod/<ns>/<name>" -> [{t, cpu, memory}]
    this.state = "pending";    // "pending" | "ok" | "unavailable"
    this.message = "";
    this.namespace = "";
    this.timer = null;
    this.polls = 0;  // successful polls so far: views redraw their plots when it moves
  }

  start(namespace) {
    this.namespace = namespace;
    if (!this.timer) {
      this.poll();
      this.timer = setInterval(() => this.poll(), INTERVAL);
    }
  }

  series(key, field) {
    return (this.history.get(key) || []).map((s) => ({ t: s.t, v: s[field] }));
  }

  record(key, t, cpu, memory) {
    const list = this.history.get(key) || [];
    if (list.length && list[list.length - 1].stamp === t) return;  // the same sample again
    list.push({ t: Date.now(), stamp: t, cpu, memory });
    if (list.length > KEEP) list.splice(0, list.length - KEEP);
    this.history.set(key, list);
  }

  async poll() {
    const ns = this.namespace;
    const pods = ns ? `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods` : "/apis/metrics.k8s.io/v1beta1/pods";
    try {
      const [nodes, podList] = await Promise.all([get("/apis/metrics.k8s.io/v1beta1/nodes"), get(pods)]);
      let totalCPU = 0, totalMemory = 0;
      for (const m of nodes.items || []) {
        const cpu = quantity(m.usage && m.usage.cpu), memory = quantity(m.usage && m.usage.memory);
        totalCPU += cpu;
        totalMemory += memory;
        this.record(`node/${m.metadata.name}`, m.timestamp, cpu, memory);
      }
      if ((nodes.items || []).length) {  // the whole cluster, as kubedash's first page plotted it
        this.record("cluster", (nodes.items || []).map((m) => m.timestamp).join(","), totalCPU, totalMemory);
      }
      for (const m of podList.items || []) {
        let cpu = 0, memory = 0;
        for (const c of m.containers || []) { cpu += quantity(c.usage && c.usage.cpu); memory += quantity(c.usage && c.usage.memory); }
        this.record(`pod/${m.metadata.namespace}/${m.metadata.name}`, m.timestamp, cpu, memory);
      }
      this.state = "ok";
      this.message = "";
      this.polls++;
    } catch (error) {
      this.state = "unavailable";
      this.message = error instanceof APIError && (error.status === 404 || error.status === 503)
        ? "metrics unavailable: metrics.k8s.io/v1beta1 is not served" : `metrics unavailable: ${error.message}`;
    }
    this.onChange();
  }
}
