// The REST API from the browser: same-origin fetch, Kubernetes Status errors, and
// informers (list, then watch from the list's resourceVersion; relist on 410 Gone).

// The page lives at <base>/ui/; the API is at <base>/ (base is "" unless a proxy adds a prefix).
export const BASE = location.pathname.replace(/\/ui(\/.*)?$/, "");

export class APIError extends Error {
  constructor(status, body) {
    const message = body && typeof body === "object" && body.message ? body.message
      : (typeof body === "string" && body.trim() ? body.trim() : `HTTP ${status}`);
    super(message);
    this.status = status;
    this.reason = body && body.reason;
  }
}

async function failure(response) {
  const text = await response.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
  return new APIError(response.status, body);
}

export async function request(method, path, body, contentType = "application/json") {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = contentType;
  }
  const response = await fetch(BASE + path, init);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

export const get = (path) => request("GET", path);
export const patch = (path, body, type = "application/merge-patch+json") => request("PATCH", path, body, type);
export const remove = (path, body) => request("DELETE", path, body);

// Where a resource's collection lives: {group, version, plural, namespaced}.
export function collectionPath(kind, namespace) {
  const root = kind.group ? `/apis/${kind.group}/${kind.version}` : `/api/${kind.version}`;
  return kind.namespaced && namespace ? `${root}/namespaces/${namespace}/${kind.plural}` : `${root}/${kind.plural}`;
}

export function objectPath(kind, obj) {
  return `${collectionPath(kind, obj.metadata.namespace)}/${obj.metadata.name}`;
}

// Lines of a streamed response body, as they arrive.
export async function* lines(response, signal) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let index;
      while ((index = pending.indexOf("\n")) >= 0) {
        yield pending.slice(0, index);
        pending = pending.slice(index + 1);
      }
    }
    if (pending) yield pending;
  } finally {
    if (!signal || !signal.aborted) reader.cancel().catch(() => {});
  }
}

class Gone extends Error {}

// Keeps `items` (by namespace/name) in step with the server and calls onChange after each change.
export class Informer {
  constructor(kind, namespace, onChange, onError) {
    this.kind = kind;
    this.namespace = namespace;
    this.onChange = onChange;
    this.onError = onError;
    this.items = new Map();
    this.synced = false;
    this.version = 0;  // counts changes, so views can tell whether to redraw
    this.error = null;  // the last failure, until a list succeeds again
    this.controller = new AbortController();
    this.run();
  }

  stop() { this.controller.abort(); }

  list() { return [...this.items.values()]; }

  async run() {
    const signal = this.controller.signal;
    let backoff = 500;
    while (!signal.aborted) {
      try {
        const path = collectionPath(this.kind, this.namespace);
        const listed = await get(path);
        if (signal.aborted) return;
        this.items = new Map(listed.items.map((o) => [key(o), o]));
        this.synced = true;
        this.error = null;
        backoff = 500;
        this.version++;
        this.version++;
      this.onChange(this);
        let version = listed.metadata.resourceVersion;
        for (;;) {  // one watch after another from the last version seen, until 410 Gone
          version = await this.watch(path, version, signal);
          if (signal.aborted) return;
        }
      } catch (error) {
        if (signal.aborted) return;
        if (!(error instanceof Gone)) {
          this.error = error;
          this.onError && this.onError(error);
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 10000);
        }
      }
    }
  }

  async watch(path, version, signal) {
    const query = `?watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(version)}`;
    const response = await fetch(BASE + path + query, { signal, headers: { Accept: "application/json" } });
    if (response.status === 410) throw new Gone();
    if (!response.ok) throw await failure(response);
    for await (const line of lines(response, signal)) {
      if (!line.trim()) continue;
      const event = JSON.parse(line);
      const obj = event.object;
      if (event.type === "ERROR") {
        if (obj && obj.code === 410) throw new Gone();
        throw new APIError(obj && obj.code, obj);
      }
      version = obj.metadata.resourceVersion || version;
      if (event.type === "BOOKMARK") continue;
      if (event.type === "DELETED") this.items.delete(key(obj));
      else this.items.set(key(obj), obj);
      this.version++;
      this.onChange(this);
    }
    return version;
  }
}

export const key = (o) => `${o.metadata.namespace || ""}/${o.metadata.name}`;
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
