// A small JSON-to-YAML emitter for showing objects as `kubectl get -o yaml` does: block
// mappings and sequences, "- " items inline with their first key, plain scalars where YAML
// reads them back as the same string, double quotes otherwise, "|" blocks for multi-line text.

const RESERVED = /^(?:true|false|yes|no|on|off|y|n|null|~|=|<<|[-+]?(?:\.inf|\.nan))$/i;
const NUMBER = /^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$|^0x[0-9a-fA-F]+$|^0o[0-7]+$/;

function plainSafe(text) {
  if (text === "" || text !== text.trim() || RESERVED.test(text) || NUMBER.test(text)) return false;
  if (/^[-+.]?\d/.test(text)) return false;  // numbers, dates, times and base-60 ints in YAML 1.1 readers
  if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(text) && !/^[-?:][^\s]/.test(text)) return false;
  if (/^[-?:][^\s]/.test(text) && /^[?:]/.test(text)) return false;
  if (/: |\s#|:$|[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]/.test(text)) return false;
  return true;
}

function quote(text) {
  // a JSON string is a YAML double-quoted scalar, once YAML's own line breaks are escaped too
  return JSON.stringify(text).replace(/[\x7f-\x9f\u2028\u2029\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function scalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  return plainSafe(value) ? value : quote(value);
}

const isBlock = (v) => v !== null && typeof v === "object" && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);
const empty = (v) => (Array.isArray(v) ? "[]" : "{}");

function multiline(text, indent) {
  if (typeof text !== "string" || !text.includes("\n") || /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]/.test(text)) return null;
  if (/^\s/.test(text) || text.split("\n").some((line) => line !== line.trimEnd())) return null;
  const chomp = text.endsWith("\n") ? (text.endsWith("\n\n") ? "+" : "") : "-";
  const body = (chomp === "" ? text.slice(0, -1) : chomp === "+" ? text.slice(0, -1) : text).split("\n");
  return `|${chomp}\n` + body.map((line) => (line ? indent + line : "")).join("\n");
}

function value(v, indent) {
  if (isBlock(v)) return "\n" + block(v, indent);
  if (v !== null && typeof v === "object") return " " + empty(v);
  const text = multiline(v, indent);
  return " " + (text ?? scalar(v));
}

function block(node, indent) {
  const out = [];
  if (Array.isArray(node)) {
    for (const item of node) {
      if (isBlock(item) && !Array.isArray(item)) {
        const inner = block(item, indent + "  ");  // first key rides on the "- " line
        out.push(indent + "- " + inner.slice(indent.length + 2));
      } else if (isBlock(item)) {
        out.push(indent + "-\n" + block(item, indent + "  "));
      } else {
        out.push(indent + "-" + value(item, indent + "  "));
      }
    }
  } else {
    for (const [k, v] of Object.entries(node)) {
      const name = scalar(k);
      out.push(indent + name + ":" + (Array.isArray(v) && v.length ? value(v, indent) : value(v, indent + "  ")));
    }
  }
  return out.join("\n");
}

export function toYAML(obj) {
  if (!isBlock(obj)) return value(obj, "").trimStart() + "\n";
  return block(obj, "") + "\n";
}
