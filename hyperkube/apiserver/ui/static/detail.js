// The side panel for one object: a summary (with CPU and memory plots for pods and nodes),
// its YAML (kept live), its events and, for pods, the followed log of a container.

import { BASE, lines, objectPath } from "./api.js";
import { formatBytes, formatCPU, lineChart } from "./chart.js";
import { EVENT_COLUMNS } from "./kinds.js";
import { toYAML } from "./yaml.js";

function el(name, attrs = {}, ...children) {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function selects(selector, labels) {
  const exprs = selector.matchExpressions || [];
  if (!selector.matchLabels && !exprs.length) return false;  // selects nothing, as for a Service without one
  return Object.entries(selector.matchLabels || {}).every(([k, v]) => labels[k] === v) && exprs.every((e) => {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    if (e.operator === "In") return has && (e.values || []).includes(labels[e.key]);
    if (e.operator === "NotIn") return !has || !(e.values || []).includes(labels[e.key]);
    if (e.operator === "Exists") return has;
    return !has;  // DoesNotExist
  });
}

export class Detail {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.kind = null;
    this.key = null;
    this.tab = "Summary";
    this.logs = null;  // {controller, container}
    this.stamp = "";
  }

  open(kind, key, tab = "Summary") {
    this.stopLogs();
    this.kind = kind;
    this.key = key;
    this.tab = tab;
    this.stamp = "";
    this.root.hidden = false;
    this.build();
  }

  close() {
    this.stopLogs();
    this.kind = null;
    this.root.hidden = true;
    this.root.replaceChildren();
  }

  object() {
    const informer = this.app.informers.get(`${this.kind.id}@${this.kind.namespaced ? this.app.namespace : ""}`);
    return informer && informer.items.get(this.key);
  }

  tabs() {
    const tabs = ["Summary", "YAML", "Events"];
    if (this.kind.logs) tabs.push("Logs");
    return tabs;
  }

  build() {
    const [ns, name] = this.key.split("/");
    const title = `${this.kind.kind} ${name}`;
    this.root.setAttribute("aria-label", title);
    const tablist = el("div", { role: "tablist", "aria-label": "Views of this object" });
    for (const tab of this.tabs()) {
      tablist.append(el("button", { type: "button", role: "tab", "aria-selected": String(tab === this.tab),
        "aria-controls": "detail-panel", id: `tab-${tab}`, text: tab,
        onclick: () => { if (this.tab !== tab) { this.stopLogs(); this.tab = tab; this.stamp = ""; this.build(); } } }));
    }
    const header = el("div", { class: "detail-head" },
      el("h2", { text: title }), el("span", { class: "muted", text: ns ? `namespace ${ns}` : "" }),
      el("button", { type: "button", class: "icon", "aria-label": "Close details", text: "×", onclick: () => this.close() }));
    const obj = this.object();
    const toolbar = el("div", { class: "detail-actions", role: "toolbar", "aria-label": "Actions" });
    if (obj && this.kind.id !== "events") toolbar.append(this.app.actionsFor(this.kind, obj));
    this.panel = el("div", { role: "tabpanel", id: "detail-panel", "aria-labelledby": `tab-${this.tab}`, class: "detail-body" });
    this.root.replaceChildren(header, toolbar, tablist, this.panel);
    this.refresh();
  }

  refresh() {
    if (!this.kind) return;
    const obj = this.object();
    if (!obj) {
      const informer = this.app.informers.get(`${this.kind.id}@${this.kind.namespaced ? this.app.namespace : ""}`);
      if (informer && informer.synced) this.panel.replaceChildren(el("p", { class: "empty", text: "This object no longer exists." }));
      this.stamp = "";
      return;
    }
    const pods = this.kind.selectsPods && this.app.informers.get(`pods@${this.app.namespace}`);
    const stamp = `${obj.metadata.resourceVersion}|${pods ? pods.version : ""}|${this.app.metrics.polls}|${this.eventsStamp(obj)}|${Date.now() / 10000 | 0}`;
    if (this.tab === "Logs") { if (!this.logs) this.startLogs(obj); return; }
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    if (this.tab === "YAML") this.showYAML(obj);
    else if (this.tab === "Events") this.panel.replaceChildren(this.events(obj));
    else this.panel.replaceChildren(this.summary(obj));
  }

  showYAML(obj) {
    const { managedFields, ...metadata } = obj.metadata;  // hidden, as kubectl get -o yaml does
    const text = toYAML({ ...obj, metadata });
    let pre = this.panel.querySelector("pre");
    if (!pre) { pre = el("pre", { class: "yaml", "aria-label": "YAML text", tabindex: "0" }); this.panel.replaceChildren(pre); }
    if (pre.textContent !== text) pre.textContent = text;
  }

  relatedEvents(obj) {
    const informer = this.app.informers.get(`events@${this.app.namespace}`);
    if (!informer) return [];
    return informer.list().filter((e) => e.involvedObject && (e.involvedObject.uid === obj.metadata.uid
      || (e.involvedObject.name === obj.metadata.name && e.involvedObject.kind === this.kind.kind
        && (e.involvedObject.namespace || "") === (obj.metadata.namespace || ""))));
  }

  eventsStamp(obj) {
    return this.relatedEvents(obj).map((e) => e.metadata.resourceVersion).join(",");
  }

  events(obj) {
    const events = this.relatedEvents(obj);
    if (!events.length) return el("p", { class: "empty", text: "No events." });
    const now = Date.now();
    const table = el("table", { "aria-label": "Events of this object" });
    const head = table.createTHead().insertRow();
    for (const c of EVENT_COLUMNS) if (c.name !== "Object") head.append(el("th", { scope: "col", text: c.name }));
    const body = table.createTBody();
    for (const e of events) {
      const row = body.insertRow();
      for (const c of EVENT_COLUMNS) if (c.name !== "Object") row.insertCell().textContent = c.value(e, now);
    }
    return table;
  }

  summary(obj) {
    const meta = obj.metadata;
    const rows = [["Kind", `${obj.kind || this.kind.kind} (${obj.apiVersion || ""})`], ["Name", meta.name]];
    if (meta.namespace) rows.push(["Namespace", meta.namespace]);
    rows.push(["Created", meta.creationTimestamp || ""], ["UID", meta.uid || ""]);
    for (const c of this.kind.columns) rows.push([c.name, String(c.value(obj, Date.now()))]);
    const labels = Object.entries(meta.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    rows.push(["Labels", labels || "<none>"]);
    const owners = (meta.ownerReferences || []).map((r) => `${r.kind}/${r.name}`).join(", ");
    if (owners) rows.push(["Controlled by", owners]);
    const list = el("dl", { class: "facts" });
    for (const [k, v] of rows) list.append(el("dt", { text: k }), el("dd", { text: v }));
    const parts = [list];
    const conditions = (obj.status && obj.status.conditions) || [];
    if (conditions.length) {
      const list = el("ul", { class: "conditions", "aria-label": "Conditions" });
      for (const c of conditions) {
        list.append(el("li", { class: c.status === "True" ? "ok" : "bad" },
          el("strong", { text: c.type }), ` ${c.status}${c.reason ? " · " + c.reason : ""}`,
          c.message ? el("div", { class: "muted", text: c.message }) : ""));
      }
      parts.push(el("h3", { text: "Conditions" }), list);
    }
    if (this.kind.metrics) parts.push(...this.plots(obj));
    if (this.kind.selectsPods) parts.push(...this.pods(obj));
    return el("div", {}, ...parts);
  }

  // The pods a workload selects (matchLabels; matchExpressions In/NotIn/Exists/DoesNotExist).
  pods(obj) {
    const heading = el("h3", { text: "Pods" });
    const informer = this.app.informers.get(`pods@${this.app.namespace}`);
    if (!informer || !informer.synced) return [heading, el("p", { class: "empty", text: "Loading…" })];
    const spec = obj.spec || {};
    const selector = this.kind.id === "services" ? { matchLabels: spec.selector } : spec.selector || {};
    const pods = informer.list().filter((p) => p.metadata.namespace === obj.metadata.namespace
      && selects(selector, p.metadata.labels || {})).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    if (!pods.length) return [heading, el("p", { class: "empty", text: "No pods." })];
    const table = el("table", { "aria-label": `Pods of ${obj.metadata.name}` });
    const head = table.createTHead().insertRow();
    const columns = this.app.podColumns;
    for (const c of ["Name", ...columns.map((c) => c.name)]) head.append(el("th", { scope: "col", text: c }));
    const body = table.createTBody();
    for (const p of pods) {
      const row = body.insertRow();
      row.insertCell().textContent = p.metadata.name;
      for (const c of columns) row.insertCell().textContent = c.value(p, Date.now());
    }
    return [heading, table];
  }

  plots(obj) {
    const metrics = this.app.metrics;
    const heading = el("h3", { text: "CPU and memory" });
    if (metrics.state !== "ok") return [heading, el("p", { class: "metrics-note", text: metrics.message || "waiting for metrics…" })];
    const id = this.kind.metrics === "nodes" ? `node/${obj.metadata.name}` : `pod/${obj.metadata.namespace}/${obj.metadata.name}`;
    const options = { width: 400, height: 90, axis: true };
    return [heading,
      lineChart(metrics.series(id, "cpu"), { ...options, label: "CPU", format: formatCPU }),
      lineChart(metrics.series(id, "memory"), { ...options, label: "Memory", format: formatBytes })];
  }

  startLogs(pod) {
    const containers = [...(pod.spec.containers || []), ...(pod.spec.initContainers || [])].map((c) => c.name);
    const container = this.logContainer && containers.includes(this.logContainer) ? this.logContainer : containers[0];
    const select = el("select", { "aria-label": "Container" }, ...containers.map((c) => new Option(c, c)));
    select.value = container;
    select.addEventListener("change", () => { this.logContainer = select.value; this.stopLogs(); this.refresh(); });
    const state = el("span", { class: "muted", role: "status", text: "connecting…" });
    const pre = el("pre", { class: "logs", role: "log", "aria-label": "Logs", tabindex: "0" });
    this.panel.replaceChildren(el("div", { class: "toolbar" }, el("label", { text: "Container " }, select), state), pre);
    const controller = new AbortController();
    this.logs = { controller };
    const path = `${objectPath(this.kind, pod)}/log?follow=true&tailLines=500&container=${encodeURIComponent(container)}`;
    (async () => {
      try {
        const response = await fetch(BASE + path, { signal: controller.signal });
        if (!response.ok) {
          const text = await response.text();
          let message = text;
          try { message = JSON.parse(text).message || text; } catch { /* plain text */ }
          state.textContent = "";
          pre.textContent = message;
          pre.classList.add("error");
          return;
        }
        state.textContent = "following";
        for await (const line of lines(response, controller.signal)) {
          const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.append(line + "\n");
          if (atEnd) pre.scrollTop = pre.scrollHeight;
        }
        state.textContent = "log ended";
      } catch (error) {
        if (!controller.signal.aborted) state.textContent = `log stream failed: ${error.message}`;
      }
    })();
  }

  stopLogs() {
    if (this.logs) { this.logs.controller.abort(); this.logs = null; }
  }
}
