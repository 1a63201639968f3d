// DOM helpers. Everything shown comes from the network and is untrusted: text goes in as text nodes, attributes
// through setAttribute, and no HTML string is ever parsed.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

function build(element, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "on") {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (key === "dataset") {
      for (const [k, v] of Object.entries(value)) element.dataset[k] = String(v);
    } else if (key === "style") {
      // CSSOM, allowed by the Content-Security-Policy (style attributes are not).
      for (const [k, v] of Object.entries(value)) element.style.setProperty(k, String(v));
    } else if (key === "text") {
      element.textContent = String(value);
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

/** An HTML element: h("td", {class: "x"}, "text", child, [more]). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Fetches JSON from the daemon's API; throws an Error with the API's message on failure. */
export async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) {
    const message = body && typeof body.error === "string" ? body.error : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
}

/** A duration in seconds, for people. */
export function duration(seconds) {
  if (typeof seconds !== "number" || !isFinite(seconds)) return "—";
  const ms = seconds * 1000;
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 10000) return `${Math.round(ms)} ms`;
  return `${(seconds).toFixed(1)} s`;
}

function pad(n, width = 2) {
  return String(n).padStart(width, "0");
}

/** An epoch time, local: "2024-05-01 12:34:56.789". */
export function timestamp(epoch) {
  if (typeof epoch !== "number" || !isFinite(epoch)) return "—";
  const d = new Date(epoch * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A rate 0..1 as a percentage. */
export function percent(rate) {
  if (typeof rate !== "number" || !isFinite(rate)) return "—";
  const p = rate * 100;
  return `${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** Pretty JSON, as text. */
export function pretty(value) {
  try {
    return JSON.stringify(value, null, 2);
  } catch (_) {
    return String(value);
  }
}

/** The status of an entity from its flags: fault, then throttle, then error win; else ok. */
export function statusOf(entity) {
  if (entity && entity.fault === true) return "fault";
  if (entity && entity.throttle === true) return "throttle";
  if (entity && entity.error === true) return "error";
  return "ok";
}

/** A status badge. */
export function badge(status) {
  return h("span", { class: `badge status-${status}` }, status);
}

/** A message in place of content. */
export function notice(text, kind = "muted") {
  return h("p", { class: kind }, text);
}

/** The time range presets, in seconds back from now (0: all time). */
export const RANGES = [
  ["all", "All time", 0],
  ["5m", "Last 5 minutes", 300],
  ["15m", "Last 15 minutes", 900],
  ["1h", "Last hour", 3600],
  ["6h", "Last 6 hours", 21600],
  ["24h", "Last 24 hours", 86400],
];

/** A select of the time range presets. */
export function rangeSelect(value, onChange, id) {
  const select = h("select", { id, name: "range", on: { change: onChange } },
    RANGES.map(([key, label]) => h("option", { value: key }, label)));
  select.value = RANGES.some(([key]) => key === value) ? value : "all";
  return select;
}

/** The `from` bound of a range preset, epoch seconds, or null for all time. */
export function rangeFrom(key) {
  const preset = RANGES.find(([k]) => k === key);
  return preset && preset[2] > 0 ? Date.now() / 1000 - preset[2] : null;
}
