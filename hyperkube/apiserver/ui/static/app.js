// The dashboard's shell: navigation, namespace selector, live tables, actions and messages.
// State lives in the URL hash (#/pods?namespace=default) so a view can be linked and reloaded.

import { APIError, Informer, get, key, objectPath, patch, remove } from "./api.js";
import { formatBytes, formatCPU, lineChart } from "./chart.js";
import { Detail } from "./detail.js";
import { EVENT_COLUMNS, age, byId, eventTime } from "./kinds.js";
import { Metrics } from "./metrics.js";

const $ = (selector) => document.querySelector(selector);
const NAMESPACES = byId("namespaces");
const EVENTS = byId("events");

export const app = {
  view: "deployments",
  namespace: "default",
  filter: "",
  informers: new Map(),
  podColumns: byId("pods").columns,
  metrics: null,
  detail: null,

  informer(kind, namespace = "") {
    const ns = kind.namespaced ? namespace : "";
    const id = `${kind.id}@${ns}`;
    if (!this.informers.has(id)) {
      this.informers.set(id, new Informer(kind, ns, () => this.schedule(), () => this.schedule()));
    }
    return this.informers.get(id);
  },

  // Keep the informers the page shows; stop every other.
  retain() {
    const wanted = new Set([`namespaces@`, `events@${this.namespace}`, `${this.view}@${byId(this.view).namespaced ? this.namespace : ""}`]);
    if (this.detail && this.detail.kind) wanted.add(`${this.detail.kind.id}@${this.detail.kind.namespaced ? this.namespace : ""}`);
    if (this.detail && this.detail.kind && this.detail.kind.selectsPods) wanted.add(`pods@${this.namespace}`);
    for (const [id, informer] of this.informers) {
      if (!wanted.has(id)) { informer.stop(); this.informers.delete(id); }
    }
  },

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.render(); });
  },

  connectionLost(error) {
    const status = $("#connection");
    status.textContent = error.status === 401 || error.status === 403 ? "refused" : "reconnecting…";
    status.title = error.message;
    status.className = "connection bad";
  },

  notify(text, kind = "ok") {
    const box = document.createElement("div");
    box.className = `message ${kind}`;
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    const span = document.createElement("span");
    span.textContent = text;
    const close = button("Dismiss", "×", () => box.remove(), "icon");
    box.append(span, close);
    $("#alerts").append(box);
    if (kind !== "error") setTimeout(() => box.remove(), 6000);
  },

  actionsFor(kind, o) { return actions(kind, o, false); },

  failed(action, error) {
    this.notify(`${action} failed: ${error instanceof APIError ? error.message : String(error)}`, "error");
  },

  render() {
    const namespaces = this.informer(NAMESPACES);
    renderNamespaces(namespaces.list(), this.namespace);
    const kind = byId(this.view);
    const informer = this.informer(kind, this.namespace);
    this.informer(EVENTS, this.namespace);
    if (this.detail.kind && this.detail.kind.selectsPods) this.informer(byId("pods"), this.namespace);
    this.retain();
    if (informer.error) this.connectionLost(informer.error);  // (a namespace list refused only hides the choice)
    else if (informer.synced) {
      $("#connection").textContent = "live";
      $("#connection").title = "";
      $("#connection").className = "connection ok";
    }
    renderView(kind, informer, this);
    if (this.detail) this.detail.refresh();
  },
};

function button(label, text, onClick, className = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  if (className) b.className = className;
  b.addEventListener("click", onClick);
  return b;
}

function renderNamespaces(list, current) {
  const select = $("#namespace");
  const names = list.map((n) => n.metadata.name).sort();
  if (current && !names.includes(current)) names.push(current);
  const wanted = ["", ...names].join("\n");
  if (select.dataset.names !== wanted) {
    select.replaceChildren(new Option("All namespaces", ""), ...names.map((n) => new Option(n, n)));
    select.dataset.names = wanted;
  }
  select.value = current;
}

function renderNav() {
  const nav = $("#nav");
  const groups = [["Workloads", ["deployments", "replicasets", "pods", "jobs", "cronjobs", "daemonsets", "statefulsets"]],
    ["Network", ["services"]], ["Cluster", ["nodes", "namespaces", "events"]]];
  nav.replaceChildren(...groups.map(([title, ids]) => {
    const section = document.createElement("div");
    const heading = document.createElement("h2");
    heading.textContent = title;
    const list = document.createElement("ul");
    for (const id of ids) {
      const a = document.createElement("a");
      a.href = `#/${id}?namespace=${encodeURIComponent(app.namespace)}`;
      a.textContent = byId(id).title;
      if (id === app.view) a.setAttribute("aria-current", "page");
      const li = document.createElement("li");
      li.append(a);
      list.append(li);
    }
    section.append(heading, list);
    return section;
  }));
}

function sortObjects(kind, items) {
  const time = (e) => Date.parse(eventTime(e)) || 0;
  if (kind.events) return items.sort((a, b) => time(b) - time(a));
  return items.sort((a, b) => (a.metadata.namespace || "").localeCompare(b.metadata.namespace || "")
    || a.metadata.name.localeCompare(b.metadata.name));
}

// Columns of the current table: [{name, value(o, now), status?, cell?(o) -> Node}]
function columns(kind) {
  const cols = [];
  if (!kind.events) cols.push({ name: "Name", value: (o) => o.metadata.name, cell: nameCell(kind) });
  if (kind.namespaced && !app.namespace) cols.push({ name: "Namespace", value: (o) => o.metadata.namespace });
  if (kind.events) cols.push(...EVENT_COLUMNS);
  else cols.push(...kind.columns, { name: "Age", value: (o, now) => age(o.metadata.creationTimestamp, now) });
  if (kind.metrics && app.metrics.state === "ok") {
    const id = (o) => (kind.metrics === "nodes" ? `node/${o.metadata.name}` : `pod/${o.metadata.namespace}/${o.metadata.name}`);
    cols.push({ name: "CPU", chart: true, value: (o) => app.metrics.series(id(o), "cpu"),
      cell: (o) => metricCell(app.metrics.series(id(o), "cpu"), `CPU of ${o.metadata.name}`, formatCPU) });
    cols.push({ name: "Memory", chart: true, value: (o) => app.metrics.series(id(o), "memory"),
      cell: (o) => metricCell(app.metrics.series(id(o), "memory"), `Memory of ${o.metadata.name}`, formatBytes) });
  }
  if (!kind.events) cols.push({ name: "Actions", actions: true });
  return cols;
}

// Above the nodes: the cluster's CPU and memory use over time (the sum over its nodes).
function renderClusterPlots(kind, metrics) {
  const box = $("#cluster-plots");
  const points = kind.metrics === "nodes" && metrics.state === "ok" ? metrics.series("cluster", "cpu") : [];
  box.hidden = !points.length;
  const stamp = `${points.length}:${points.length && points[points.length - 1].t}`;
  if (!points.length || box.dataset.stamp === stamp) return;
  box.dataset.stamp = stamp;
  const options = { width: 300, height: 72, axis: true };
  box.replaceChildren(
    lineChart(points, { ...options, label: "Cluster CPU", format: formatCPU }),
    lineChart(metrics.series("cluster", "memory"), { ...options, label: "Cluster memory", format: formatBytes }));
}

// A sparkline of the history with the latest value beside it.
function metricCell(points, label, format) {
  const box = document.createElement("div");
  box.className = "metric";
  const value = document.createElement("span");
  value.textContent = points.length ? format(points[points.length - 1].v) : "–";
  box.append(lineChart(points, { label, format, width: 90, height: 24 }), value);
  return box;
}

function nameCell(kind) {
  return (o) => button(`Open ${kind.kind.toLowerCase()} ${o.metadata.name}`, o.metadata.name,
    () => { app.detail.open(kind, key(o)); app.schedule(); }, "link");
}

function actions(kind, o, logs = true) {
  const box = document.createElement("div");
  box.className = "actions";
  const name = o.metadata.name;
  if (kind.scalable) box.append(button(`Scale ${name}`, "Scale", () => scale(kind, o)));
  if (kind.restartable) box.append(button(`Restart ${name}`, "Restart", () => restart(kind, o)));
  if (kind.logs && logs) box.append(button(`Logs of ${name}`, "Logs", () => { app.detail.open(kind, key(o), "Logs"); app.schedule(); }));
  if (kind.id !== "events") box.append(button(`Delete ${name}`, "Delete", () => confirmDelete(kind, o), "danger"));
  return box;
}

function renderView(kind, informer, ctx) {
  const view = $("#view");
  const cols = columns(kind);
  const signature = `${kind.id}|${cols.map((c) => c.name).join(",")}`;
  if (view.dataset.signature !== signature) {
    const heading = document.createElement("div");
    heading.className = "view-head";
    const title = document.createElement("h2");
    title.textContent = kind.title;
    const filter = document.createElement("input");
    Object.assign(filter, { type: "search", placeholder: "Filter by name", value: ctx.filter });
    filter.setAttribute("aria-label", "Filter by name");
    filter.addEventListener("input", () => { ctx.filter = filter.value; ctx.schedule(); });
    heading.append(title, filter);
    const note = document.createElement("p");
    note.className = "metrics-note";
    note.id = "metrics-note";
    const table = document.createElement("table");
    table.setAttribute("aria-label", kind.title);
    const head = table.createTHead().insertRow();
    for (const c of cols) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = c.name;
      head.append(th);
    }
    table.createTBody();
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.id = "empty";
    const scroller = document.createElement("div");
    scroller.className = "scroller";
    scroller.append(table);
    const plots = document.createElement("div");
    plots.className = "cluster-plots";
    plots.id = "cluster-plots";
    view.replaceChildren(heading, note, plots, scroller, empty);
    view.dataset.signature = signature;
  }
  const note = $("#metrics-note");
  note.textContent = kind.metrics && ctx.metrics.state === "unavailable" ? ctx.metrics.message : "";
  note.hidden = !note.textContent;
  renderClusterPlots(kind, ctx.metrics);
  const body = view.querySelector("tbody");
  const needle = ctx.filter.trim().toLowerCase();
  const items = sortObjects(kind, informer.list()).filter((o) => !needle || (kind.events
    ? `${o.involvedObject && o.involvedObject.name} ${o.reason} ${o.message}` : o.metadata.name).toLowerCase().includes(needle));
  const now = Date.now();
  const rows = new Map([...body.rows].map((r) => [r.dataset.key, r]));
  items.forEach((o, index) => {
    const k = key(o) + (kind.events ? `#${o.metadata.uid}` : "");
    let row = rows.get(k);
    rows.delete(k);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.key = k;
      for (let i = 0; i < cols.length; i++) row.insertCell();
    }
    cols.forEach((c, i) => updateCell(row.cells[i], c, kind, o, now));
    if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
  });
  for (const row of rows.values()) row.remove();
  const empty = $("#empty");
  if (informer.error && !informer.synced) empty.setAttribute("role", "alert");
  else empty.removeAttribute("role");
  empty.textContent = informer.error && !informer.synced ? `Cannot list ${kind.title.toLowerCase()}: ${informer.error.message}`
    : !informer.synced ? "Loading…"
    : items.length ? "" : needle ? `No ${kind.title.toLowerCase()} match "${ctx.filter.trim()}".` : `No ${kind.title.toLowerCase()} in ${kind.namespaced && ctx.namespace ? `namespace ${ctx.namespace}` : "the cluster"}.`;
  empty.hidden = !empty.textContent;
}

function updateCell(cell, column, kind, o, now) {
  if (column.actions) {
    const stamp = `${o.metadata.uid}`;
    if (cell.dataset.stamp !== stamp) { cell.replaceChildren(actions(kind, o)); cell.dataset.stamp = stamp; }
    return;
  }
  const value = column.value(o, now);
  const stamp = column.chart ? `${value.length}:${value.length && value[value.length - 1].t}` : `${o.metadata.uid}|${value}`;
  if (cell.dataset.stamp === stamp) return;
  cell.dataset.stamp = stamp;
  if (column.cell) cell.replaceChildren(column.cell(o));
  else cell.textContent = value;
  if (column.status) cell.className = `status ${column.status(String(value))}`;
  if (column.wide) cell.className = "wide";
}

// The object as last seen (a row's buttons were made with the version of their first render).
function latest(kind, o) {
  const informer = app.informers.get(`${kind.id}@${kind.namespaced ? app.namespace : ""}`);
  return (informer && informer.items.get(key(o))) || o;
}

function scale(kind, shown) {
  const o = latest(kind, shown);
  const dialog = $("#scale-dialog");
  $("#scale-title").textContent = `Scale ${kind.kind.toLowerCase()} ${o.metadata.name}`;
  const input = $("#scale-replicas");
  input.value = (o.spec && o.spec.replicas) ?? 1;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") return;
    const replicas = Number(input.value);
    try {
      await patch(`${objectPath(kind, o)}/scale`, { spec: { replicas } });
      app.notify(`${kind.kind.toLowerCase()}${kind.group ? "." + kind.group : ""}/${o.metadata.name} scaled to ${replicas}`);
    } catch (error) { app.failed(`Scaling ${o.metadata.name}`, error); }
  };
  dialog.showModal();
  input.select();
}

// RFC 3339 in local time with offset, as Go's time.Now().Format(time.RFC3339) prints it.
export function rfc3339(date = new Date()) {
  const pad = (v) => String(Math.floor(Math.abs(v))).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const zone = offset === 0 ? "Z" : `${offset > 0 ? "+" : "-"}${pad(offset / 60)}:${pad(offset % 60)}`;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:` +
    `${pad(date.getMinutes())}:${pad(date.getSeconds())}${zone}`;
}

// As `kubectl rollout restart`: read the object, refuse a paused one, patch the template's annotation.
async function restart(kind, o) {
  const body = { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": rfc3339() } } } } };
  try {
    const current = await get(objectPath(kind, o));
    if (current.spec && current.spec.paused) {
      app.notify(`Restarting ${o.metadata.name} failed: can't restart paused deployment (run rollout resume first)`, "error");
      return;
    }
    await patch(objectPath(kind, o), body, "application/strategic-merge-patch+json");
    app.notify(`${kind.kind.toLowerCase()} ${o.metadata.name} restarted`);
  } catch (error) { app.failed(`Restarting ${o.metadata.name}`, error); }
}

function confirmDelete(kind, o) {
  const dialog = $("#delete-dialog");
  $("#delete-title").textContent = `Delete ${kind.kind.toLowerCase()} ${o.metadata.name}?`;
  $("#delete-text").textContent = kind.namespaced
    ? `This deletes ${kind.kind} "${o.metadata.name}" in namespace "${o.metadata.namespace}" and what it owns.`
    : `This deletes ${kind.kind} "${o.metadata.name}".`;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") return;
    try {
      await remove(objectPath(kind, o), { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" });
      app.notify(`${kind.kind.toLowerCase()} "${o.metadata.name}" deleted`);
    } catch (error) { app.failed(`Deleting ${o.metadata.name}`, error); }
  };
  dialog.showModal();
}

function route() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const params = new URLSearchParams(query || "");
  const view = byId(path) ? path : "deployments";
  if (view !== app.view) app.filter = "";
  app.view = view;
  if (params.has("namespace")) app.namespace = params.get("namespace");
  if (app.detail && app.detail.kind && app.detail.kind.id !== app.view) app.detail.close();
  renderNav();
  document.title = `${byId(app.view).title} · hyperkube`;
  app.metrics.start(app.namespace);
  app.schedule();
}

function setNamespace(ns) {
  app.namespace = ns;
  app.metrics.namespace = ns;
  app.detail.close();
  history.replaceState(null, "", `#/${app.view}?namespace=${encodeURIComponent(ns)}`);
  renderNav();
  app.metrics.poll();
  app.schedule();
}

function boot() {
  app.metrics = new Metrics(() => app.schedule());
  app.detail = new Detail(app, $("#detail"));
  $("#namespace").addEventListener("change", (e) => setNamespace(e.target.value));
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !document.querySelector("dialog[open]") && app.detail.kind) app.detail.close();
  });
  route();
  setInterval(() => app.schedule(), 5000);  // ages move on
}

boot();
