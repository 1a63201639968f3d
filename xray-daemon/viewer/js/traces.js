// The trace list: newest first, filtered, and kept up to date by polling the API with `after_seq`.
import { h, getJSON, duration, timestamp, badge, notice, rangeSelect, rangeFrom } from "./dom.js";

const POLL_MS = 2000;
const LIMIT = 200;

export function render(root, _params, navigate) {
  const query = new URLSearchParams(location.search);
  const service = h("input", { id: "filter-service", name: "service", type: "search", placeholder: "any service",
    list: "known-services", value: query.get("service") || "", autocomplete: "off" });
  const known = h("datalist", { id: "known-services" });
  const status = h("select", { id: "filter-status", name: "status" },
    [["", "any status"], ["ok", "ok"], ["error", "error"], ["throttle", "throttle"], ["fault", "fault"]]
      .map(([value, label]) => h("option", { value }, label)));
  status.value = query.get("status") || "";
  const annotation = h("input", { id: "filter-annotation", name: "annotation", type: "search",
    placeholder: "key=value", value: query.get("annotation") || "", autocomplete: "off" });
  const minDuration = h("input", { id: "filter-min-duration", name: "min_duration_ms", type: "number", min: "0",
    step: "any", placeholder: "ms", value: query.get("min_ms") || "" });
  const range = rangeSelect(query.get("range") || "all", () => changed(), "filter-range");
  const live = h("input", { id: "filter-live", type: "checkbox", checked: true });
  const message = h("p", { class: "form-message", id: "filter-message", role: "status" });

  let timer = null;
  for (const input of [service, annotation, minDuration]) {
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(changed, 250);
    });
  }
  status.addEventListener("change", () => changed());

  const form = h("form", { class: "filters", on: { submit: (e) => { e.preventDefault(); changed(); } } },
    h("label", {}, "Service", service, known),
    h("label", {}, "Status", status),
    h("label", {}, "Annotation", annotation),
    h("label", {}, "Min duration (ms)", minDuration),
    h("label", {}, "Time range", range),
    h("label", { class: "inline" }, live, " Live"));

  const body = h("tbody", { id: "trace-rows" });
  const table = h("table", { class: "traces", id: "trace-table" },
    h("thead", {}, h("tr", {},
      ["Start time", "Service", "Method", "URL", "Status", "Duration", "Segments"].map((c) => h("th", {}, c)))),
    body);
  const heading = h("h1", {}, "Traces ", h("span", { class: "muted", id: "trace-count" }));
  root.append(heading, form, message, table);

  let traces = new Map();
  let latestSeq = 0;
  let generation = 0;
  let stopped = false;

  function filterParams() {
    const params = new URLSearchParams();
    if (service.value.trim()) params.set("service", service.value.trim());
    if (status.value) params.set("status", status.value);
    const note = annotation.value.trim();
    if (note) {
      if (!note.includes("=")) throw new Error("Annotation filter: write key=value.");
      params.set("annotation", note);
    }
    if (minDuration.value !== "") {
      const ms = Number(minDuration.value);
      if (!isFinite(ms) || ms < 0) throw new Error("Min duration: a number of milliseconds.");
      params.set("min_duration", String(ms / 1000));
    }
    const from = rangeFrom(range.value);
    if (from !== null) params.set("from", String(from));
    return params;
  }

  function keepInUrl() {
    const params = new URLSearchParams();
    if (service.value.trim()) params.set("service", service.value.trim());
    if (status.value) params.set("status", status.value);
    if (annotation.value.trim()) params.set("annotation", annotation.value.trim());
    if (minDuration.value !== "") params.set("min_ms", minDuration.value);
    if (range.value !== "all") params.set("range", range.value);
    const search = params.toString();
    history.replaceState(null, "", search ? `/?${search}` : "/");
  }

  function showError(error) {
    message.textContent = error ? error.message : "";
    message.classList.toggle("error", Boolean(error));
  }

  async function changed() {
    keepInUrl();
    const mine = ++generation;
    let params;
    try {
      params = filterParams();
    } catch (error) {
      showError(error);
      return;
    }
    params.set("limit", String(LIMIT));
    try {
      const list = await getJSON(`/api/traces?${params}`);
      if (mine !== generation || stopped) return;
      traces = new Map(list.traces.map((t) => [t.id, t]));
      latestSeq = list.latest_seq;
      showError(null);
      draw();
    } catch (error) {
      if (mine === generation) showError(error);
    }
  }

  async function poll() {
    if (stopped || !live.checked) return;
    const mine = generation;
    let params;
    try {
      params = filterParams();
    } catch (_) {
      return;
    }
    params.set("after_seq", String(latestSeq));
    params.set("limit", String(LIMIT));
    try {
      const news = await getJSON(`/api/traces?${params}`);
      if (mine !== generation || stopped) return;
      latestSeq = Math.max(latestSeq, news.latest_seq);
      if (news.traces.length === 0) return;
      for (const t of news.traces) traces.set(t.id, t);
      draw();
    } catch (_) {
      // The header shows when the daemon is unreachable; the next poll tries again.
    }
  }

  function draw() {
    const from = rangeFrom(range.value);
    const rows = [...traces.values()]
      .filter((t) => from === null || t.start_time >= from)
      .sort((a, b) => b.start_time - a.start_time || (a.id < b.id ? -1 : 1))
      .slice(0, LIMIT);
    traces = new Map(rows.map((t) => [t.id, t]));
    document.getElementById("trace-count").textContent = `(${rows.length}${rows.length >= LIMIT ? "+" : ""})`;
    const services = new Set([...known.options].map((o) => o.value));
    for (const t of rows) {
      if (!services.has(t.root_service)) {
        services.add(t.root_service);
        known.append(h("option", { value: t.root_service }));
      }
    }
    if (rows.length === 0) {
      body.replaceChildren(h("tr", { class: "empty" }, h("td", { colspan: 7 },
        traces.size === 0 && !location.search
          ? "No traces yet. Point an X-Ray SDK at this daemon's UDP port; new traces appear here."
          : "No trace matches these filters.")));
      return;
    }
    body.replaceChildren(...rows.map(row));
  }

  function row(t) {
    const href = `/traces/${encodeURIComponent(t.id)}`;
    const http = t.http || {};
    const open = () => navigate(href);
    return h("tr", { class: `trace-row status-row-${t.status}`, dataset: { traceId: t.id },
      on: { click: (e) => { if (!e.target.closest("a")) open(); } } },
      h("td", { class: "nowrap" }, h("a", { href, "data-nav": true, title: t.id }, timestamp(t.start_time))),
      h("td", { class: "service" }, t.root_service),
      h("td", {}, http.method || ""),
      h("td", { class: "url", title: http.url || "" }, http.url || ""),
      h("td", { class: "nowrap" }, badge(t.status), http.status ? ` ${http.status}` : ""),
      h("td", { class: "num" }, t.duration === null || t.duration === undefined ? "in progress" : duration(t.duration)),
      h("td", { class: "num" }, String(t.segments)));
  }

  changed();
  const poller = setInterval(poll, POLL_MS);
  return {
    stop() {
      stopped = true;
      clearInterval(poller);
      clearTimeout(timer);
    },
  };
}
