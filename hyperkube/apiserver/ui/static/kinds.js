// The kinds the dashboard lists and their table columns, following `kubectl get`'s.

export function age(timestamp, now = Date.now()) {
  if (!timestamp) return "<unknown>";
  return duration((now - Date.parse(timestamp)) / 1000);
}

// kubectl's HumanDuration: more precision for young things, less for old ones.
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60), h = Math.floor(s / 3600), d = Math.floor(s / 86400);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (h < 3) return `${m}m`;
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  if (d < 8) return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
  if (d < 730) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

const n = (v) => v || 0;
const none = (v) => (v === undefined || v === null || v === "" ? "<none>" : String(v));

export function podStatus(pod) {
  const status = pod.status || {};
  let reason = status.reason || status.phase || "Pending";
  for (const c of status.initContainerStatuses || []) {
    const st = c.state || {};
    if (st.terminated && st.terminated.exitCode === 0) continue;
    if (st.terminated) { reason = `Init:${st.terminated.reason || "Error"}`; break; }
    if (st.waiting && st.waiting.reason && st.waiting.reason !== "PodInitializing") { reason = `Init:${st.waiting.reason}`; break; }
  }
  for (const c of [...(status.containerStatuses || [])].reverse()) {
    const st = c.state || {};
    if (st.waiting && st.waiting.reason) reason = st.waiting.reason;
    else if (st.terminated && st.terminated.reason) reason = st.terminated.reason;
    else if (st.terminated) reason = st.terminated.signal ? `Signal:${st.terminated.signal}` : `ExitCode:${st.terminated.exitCode}`;
  }
  if (pod.metadata.deletionTimestamp) reason = status.reason === "NodeLost" ? "Unknown" : "Terminating";
  return reason;
}

function podReady(pod) {
  const statuses = (pod.status && pod.status.containerStatuses) || [];
  const total = ((pod.spec && pod.spec.containers) || []).length;
  return `${statuses.filter((c) => c.ready).length}/${total}`;
}

const restarts = (pod) => ((pod.status && pod.status.containerStatuses) || []).reduce((a, c) => a + n(c.restartCount), 0);

function nodeStatus(node) {
  const ready = ((node.status && node.status.conditions) || []).find((c) => c.type === "Ready");
  const state = !ready ? "Unknown" : ready.status === "True" ? "Ready" : "NotReady";
  return node.spec && node.spec.unschedulable ? `${state},SchedulingDisabled` : state;
}

function nodeRoles(node) {
  const roles = Object.keys(node.metadata.labels || {})
    .filter((l) => l.startsWith("node-role.kubernetes.io/")).map((l) => l.slice(24));
  return roles.length ? roles.sort().join(",") : "<none>";
}

function ports(svc) {
  const list = (svc.spec && svc.spec.ports) || [];
  if (!list.length) return "<none>";
  return list.map((p) => `${p.port}${p.nodePort ? ":" + p.nodePort : ""}/${p.protocol || "TCP"}`).join(",");
}

function externalIP(svc) {
  const spec = svc.spec || {};
  const ingress = ((svc.status && svc.status.loadBalancer && svc.status.loadBalancer.ingress) || [])
    .map((i) => i.ip || i.hostname);
  const ips = [...(spec.externalIPs || []), ...ingress];
  if (ips.length) return ips.join(",");
  if (spec.type === "ExternalName") return none(spec.externalName);
  return spec.type === "LoadBalancer" ? "<pending>" : "<none>";
}

function jobStatus(job) {
  const conditions = (job.status && job.status.conditions) || [];
  const has = (t) => conditions.some((c) => c.type === t && c.status === "True");
  if (has("Complete")) return "Complete";
  if (has("Failed")) return "Failed";
  if (job.metadata.deletionTimestamp) return "Terminating";
  if (job.spec && job.spec.suspend) return "Suspended";
  return "Running";
}

function jobDuration(job, now) {
  const st = job.status || {};
  if (!st.startTime) return "";
  const end = st.completionTime ? Date.parse(st.completionTime) : now;
  return duration((end - Date.parse(st.startTime)) / 1000);
}

function selector(sel) {
  return sel && Object.keys(sel).length ? Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(",") : "<none>";
}

const col = (name, value, opts = {}) => ({ name, value, ...opts });

// status(o) -> "ok" | "warn" | "bad" colours the row's status cell
const okIf = (good, warn) => (v) => (good.includes(v) ? "ok" : warn && warn.includes(v) ? "warn" : "bad");

export const KINDS = [
  { id: "deployments", selectsPods: true, title: "Deployments", kind: "Deployment", group: "apps", version: "v1", namespaced: true,
    scalable: true, restartable: true, columns: [
      col("Ready", (o) => `${n(o.status && o.status.readyReplicas)}/${n(o.spec && o.spec.replicas)}`,
        { status: (v) => (v.split("/")[0] === v.split("/")[1] ? "ok" : "warn") }),
      col("Up-to-date", (o) => n(o.status && o.status.updatedReplicas)),
      col("Available", (o) => n(o.status && o.status.availableReplicas))] },
  { id: "replicasets", selectsPods: true, title: "ReplicaSets", kind: "ReplicaSet", group: "apps", version: "v1", namespaced: true,
    scalable: true, columns: [
      col("Desired", (o) => n(o.spec && o.spec.replicas)),
      col("Current", (o) => n(o.status && o.status.replicas)),
      col("Ready", (o) => n(o.status && o.status.readyReplicas))] },
  { id: "pods", title: "Pods", kind: "Pod", version: "v1", namespaced: true, logs: true, metrics: "pods", columns: [
      col("Ready", podReady),
      col("Status", podStatus, { status: okIf(["Running", "Succeeded", "Completed"], ["Pending", "ContainerCreating", "Terminating"]) }),
      col("Restarts", restarts),
      col("Node", (o) => none(o.spec && o.spec.nodeName))] },
  { id: "jobs", selectsPods: true, title: "Jobs", kind: "Job", group: "batch", version: "v1", namespaced: true, columns: [
      col("Status", jobStatus, { status: okIf(["Complete"], ["Running", "Suspended", "Terminating"]) }),
      col("Completions", (o) => `${n(o.status && o.status.succeeded)}/${o.spec && o.spec.completions != null ? o.spec.completions : 1}`),
      col("Duration", (o, now) => jobDuration(o, now))] },
  { id: "cronjobs", title: "CronJobs", kind: "CronJob", group: "batch", version: "v1", namespaced: true, columns: [
      col("Schedule", (o) => o.spec && o.spec.schedule),
      col("Suspend", (o) => String(Boolean(o.spec && o.spec.suspend)).replace(/^./, (c) => c.toUpperCase())),
      col("Active", (o) => ((o.status && o.status.active) || []).length),
      col("Last schedule", (o, now) => (o.status && o.status.lastScheduleTime ? age(o.status.lastScheduleTime, now) : "<none>"))] },
  { id: "daemonsets", selectsPods: true, title: "DaemonSets", kind: "DaemonSet", group: "apps", version: "v1", namespaced: true,
    restartable: true, columns: [
      col("Desired", (o) => n(o.status && o.status.desiredNumberScheduled)),
      col("Current", (o) => n(o.status && o.status.currentNumberScheduled)),
      col("Ready", (o) => n(o.status && o.status.numberReady)),
      col("Up-to-date", (o) => n(o.status && o.status.updatedNumberScheduled)),
      col("Available", (o) => n(o.status && o.status.numberAvailable)),
      col("Node selector", (o) => selector(o.spec && o.spec.template && o.spec.template.spec && o.spec.template.spec.nodeSelector))] },
  { id: "statefulsets", selectsPods: true, title: "StatefulSets", kind: "StatefulSet", group: "apps", version: "v1", namespaced: true,
    scalable: true, restartable: true, columns: [
      col("Ready", (o) => `${n(o.status && o.status.readyReplicas)}/${n(o.spec && o.spec.replicas)}`,
        { status: (v) => (v.split("/")[0] === v.split("/")[1] ? "ok" : "warn") })] },
  { id: "services", selectsPods: true, title: "Services", kind: "Service", version: "v1", namespaced: true, columns: [
      col("Type", (o) => (o.spec && o.spec.type) || "ClusterIP"),
      col("Cluster-IP", (o) => none(o.spec && o.spec.clusterIP)),
      col("External-IP", externalIP),
      col("Port(s)", ports),
      col("Selector", (o) => selector(o.spec && o.spec.selector))] },
  { id: "nodes", title: "Nodes", kind: "Node", version: "v1", namespaced: false, metrics: "nodes", columns: [
      col("Status", nodeStatus, { status: okIf(["Ready"]) }),
      col("Roles", nodeRoles),
      col("Version", (o) => (o.status && o.status.nodeInfo && o.status.nodeInfo.kubeletVersion) || "")] },
  { id: "namespaces", title: "Namespaces", kind: "Namespace", version: "v1", namespaced: false, columns: [
      col("Status", (o) => (o.status && o.status.phase) || "Active", { status: okIf(["Active"], ["Terminating"]) })] },
  { id: "events", title: "Events", kind: "Event", version: "v1", namespaced: true, events: true, columns: [] },
];

for (const k of KINDS) { k.plural = k.id; k.group = k.group || ""; }

export const byId = (id) => KINDS.find((k) => k.id === id);

export function eventTime(e) {
  return e.lastTimestamp || (e.series && e.series.lastObservedTime) || e.eventTime || e.firstTimestamp || e.metadata.creationTimestamp;
}

export const EVENT_COLUMNS = [
  col("Last seen", (e, now) => age(eventTime(e), now)),
  col("Type", (e) => e.type || "Normal", { status: (v) => (v === "Normal" ? "ok" : "warn") }),
  col("Reason", (e) => e.reason || ""),
  col("Object", (e) => `${(e.involvedObject && e.involvedObject.kind || "").toLowerCase()}/${e.involvedObject && e.involvedObject.name}`),
  col("Message", (e) => e.message || "", { wide: true }),
];
