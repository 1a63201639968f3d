// One trace: a waterfall of its segments and subsegments (nested, to scale, coloured by status), and the details
// of the selected entity.
import { h, getJSON, duration, timestamp, badge, notice, statusOf } from "./dom.js";
import { details } from "./details.js";

const MAX_DEPTH = 64;

/**
 * Every entity of the trace in display order: {entity, depth, kind, orphan}. A segment called by an entity of the
 * trace (its `parent_id`) is nested under that entity, after its subsegments; the others start at depth 0.
 */
function flatten(segments, orphans) {
  const rows = [];
  const ids = new Set();
  const collect = (entity, depth) => {
    if (!entity || typeof entity !== "object" || depth > MAX_DEPTH) return;
    if (entity.id) ids.add(entity.id);
    for (const sub of Array.isArray(entity.subsegments) ? entity.subsegments : []) collect(sub, depth + 1);
  };
  for (const entity of [...segments, ...orphans]) collect(entity, 0);
  const called = new Map();
  const roots = [];
  for (const segment of segments) {
    if (segment && segment.parent_id && ids.has(segment.parent_id) && segment.parent_id !== segment.id) {
      if (!called.has(segment.parent_id)) called.set(segment.parent_id, []);
      called.get(segment.parent_id).push(segment);
    } else {
      roots.push(segment);
    }
  }
  const shown = new Set();
  function walk(entity, depth, kind, orphan) {
    if (!entity || typeof entity !== "object" || shown.has(entity)) return;
    shown.add(entity);
    rows.push({ entity, depth, kind, orphan });
    if (depth >= MAX_DEPTH) return;
    for (const sub of Array.isArray(entity.subsegments) ? entity.subsegments : []) walk(sub, depth + 1, "subsegment", orphan);
    for (const segment of called.get(entity.id) || []) walk(segment, depth + 1, "segment", orphan);
  }
  for (const segment of roots) walk(segment, 0, "segment", false);
  for (const orphan of orphans) walk(orphan, 0, "subsegment", true);
  // Segments in a calling cycle: shown at the top level rather than lost.
  for (const segment of segments) walk(segment, 0, "segment", false);
  return rows;
}

/**
 * The trees of a trace from its documents and `attached_to` (for each document, the id of the document it goes
 * into, as the daemon planned: under the entity its `parent_id` names, looking at embedded subsegments first,
 * deepest first). Returns {segments, orphans}; each document appears once.
 */
function compose(documents, attachedTo) {
  const byId = new Map();
  documents.forEach((doc, i) => { if (doc && typeof doc === "object" && typeof doc.id === "string") byId.set(doc.id, i); });
  const children = documents.map(() => []);
  const attached = documents.map(() => false);
  documents.forEach((doc, i) => {
    const host = byId.get(attachedTo[i]);
    if (host !== undefined && host !== i) { children[host].push(i); attached[i] = true; }
  });
  const taken = documents.map(() => false);
  const stray = [];
  const startOf = (e) => (e && typeof e.start_time === "number" ? e.start_time : Infinity);
  function place(entity, groups, depth) {
    if (groups.size === 0 || depth > MAX_DEPTH * 2 || !entity || typeof entity !== "object") return;
    if (Array.isArray(entity.subsegments)) for (const sub of entity.subsegments) place(sub, groups, depth + 1);
    const found = typeof entity.id === "string" ? groups.get(entity.id) : undefined;
    if (!found) return;
    groups.delete(entity.id);
    const subs = Array.isArray(entity.subsegments) ? entity.subsegments : [];
    entity.subsegments = [...subs, ...found].sort((a, b) => startOf(a) - startOf(b));
  }
  function build(i, depth) {
    if (taken[i]) return null;
    taken[i] = true;
    // A document that receives others is copied: the one as received stays as it was, for the details panel.
    const doc = children[i].length ? structuredClone(documents[i]) : documents[i];
    const groups = new Map();
    for (const child of children[i]) {
      const value = depth > MAX_DEPTH * 4 ? null : build(child, depth + 1);
      if (!value) continue;
      const key = typeof value.parent_id === "string" ? value.parent_id : "";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(value);
    }
    if (doc && typeof doc === "object") place(doc, groups, 0);
    for (const rest of groups.values()) stray.push(...rest);
    return doc;
  }
  const segments = [];
  const orphans = [];
  documents.forEach((doc, i) => {
    if (attached[i] || !doc || typeof doc !== "object") return;
    const built = build(i, 0);
    if (built) (doc.type === undefined ? segments : orphans).push(built);
  });
  orphans.push(...stray);
  documents.forEach((doc, i) => { if (!taken[i] && doc && typeof doc === "object") orphans.push(doc); });
  segments.sort((a, b) => startOf(a) - startOf(b));
  return { segments, orphans };
}

function num(value) {
  return typeof value === "number" && isFinite(value) ? value : null;
}

export function render(root, [traceId]) {
  let stopped = false;
  root.append(h("p", { class: "muted" }, "Loading trace…"));
  load();

  // Every page of the trace's documents (each document comes once), then the trees built from them.
  async function load() {
    const path = `/api/traces/${encodeURIComponent(traceId)}`;
    let trace;
    try {
      trace = await getJSON(path);
      while (trace.next_offset !== null && trace.next_offset !== undefined && !stopped) {
        root.replaceChildren(h("p", { class: "muted" },
          `Loading trace… ${trace.documents.length} of ${trace.total} documents`));
        const page = await getJSON(`${path}?offset=${trace.next_offset}`);
        trace.documents.push(...page.documents);
        trace.attached_to.push(...page.attached_to);
        trace.total = page.total;
        trace.next_offset = page.next_offset;
      }
    } catch (error) {
      if (!stopped) root.replaceChildren(h("h1", {}, "Trace"), notice(error.message, "error"));
      return;
    }
    if (!stopped) draw(trace);
  }

  function draw(trace) {
    const { segments, orphans } = compose(trace.documents || [], trace.attached_to || []);
    const rows = flatten(segments, orphans);
    const starts = rows.map((r) => num(r.entity.start_time)).filter((v) => v !== null);
    const ends = rows.flatMap((r) => [num(r.entity.end_time), num(r.entity.start_time)]).filter((v) => v !== null);
    const t0 = starts.length ? Math.min(...starts) : 0;
    const t1 = ends.length ? Math.max(...ends) : t0;
    const span = Math.max(t1 - t0, 1e-6);
    const documents = new Map((trace.documents || []).filter((d) => d && typeof d === "object")
      .map((d) => [d.id, d]));

    const summary = trace.summary;
    const http = summary.http || {};
    const header = h("div", { class: "trace-header" },
      h("p", {}, h("a", { href: "/", "data-nav": true }, "← Traces")),
      h("h1", {}, summary.root_service, " ", badge(summary.status)),
      h("dl", { class: "facts" },
        fact("Trace id", trace.id),
        fact("Started", timestamp(summary.start_time)),
        fact("Duration", summary.duration === null ? "in progress" : duration(summary.duration)),
        http.method || http.url ? fact("Request", [http.method, http.url, http.status].filter(Boolean).join(" ")) : null,
        fact("Segments", String(summary.segments)),
        fact("Documents", String(summary.documents))));

    const axis = h("div", { class: "wf-row wf-axis" }, h("div", { class: "wf-name" }, "Entity"),
      h("div", { class: "wf-track" }, [0, 0.25, 0.5, 0.75, 1].map((f) =>
        h("span", { class: "wf-tick", style: { left: `${f * 100}%` } }, duration(span * f)))));
    const panel = h("aside", { class: "details", id: "details" });
    const waterfall = h("div", { class: "waterfall", id: "waterfall", role: "list" }, axis);
    let selected = null;
    let orphanHeading = false;
    for (const row of rows) {
      if (row.orphan && !orphanHeading) {
        orphanHeading = true;
        waterfall.append(h("div", { class: "wf-group" },
          "Orphans: subsegments whose parent is not in this trace"));
      }
      const element = bar(row, t0, span);
      element.addEventListener("click", () => select(element, row));
      element.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(element, row); }
      });
      waterfall.append(element);
      if (!selected) selected = [element, row];
    }
    if (rows.length === 0) waterfall.append(notice("This trace has no documents."));

    function select(element, row) {
      for (const other of waterfall.querySelectorAll(".wf-row.selected")) other.classList.remove("selected");
      element.classList.add("selected");
      panel.replaceChildren(details(row.entity, row.kind, documents.get(row.entity.id), t0));
    }

    root.replaceChildren(header, h("div", { class: "trace-body" }, waterfall, panel));
    if (selected) select(...selected);
  }

  return { stop() { stopped = true; } };
}

function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

function bar({ entity, depth, kind }, t0, span) {
  const start = num(entity.start_time);
  const end = num(entity.end_time);
  const status = statusOf(entity);
  const inProgress = entity.in_progress === true || end === null;
  const left = start === null ? 0 : ((start - t0) / span) * 100;
  const right = inProgress ? 100 : ((end - t0) / span) * 100;
  const width = Math.max(right - left, 0);
  const label = entity.namespace ? `${kind} · ${entity.namespace}` : kind;
  const took = inProgress ? "in progress" : duration(end - start);
  return h("div", {
    class: `wf-row wf-${kind}`, role: "listitem", tabindex: "0",
    dataset: { entityId: entity.id || "", status },
  },
    h("div", { class: "wf-name", style: { "padding-left": `${0.5 + depth * 1.1}rem` }, title: entity.name || "" },
      h("span", { class: "wf-label" }, entity.name || "(no name)"),
      h("span", { class: "wf-kind" }, label)),
    h("div", { class: "wf-track" },
      h("div", {
        class: `wf-bar status-${status}${inProgress ? " in-progress" : ""}`,
        style: { left: `${Math.min(left, 100)}%`, width: `max(${width}%, 2px)` },
      }),
      h("span", durationPlace(left, Math.min(right, 100)), took, status !== "ok" ? ` · ${status}` : "")));
}

/** Where a bar's duration goes: after the bar, else inside its end, else before it. */
function durationPlace(left, right) {
  if (right <= 80) return { class: "wf-duration", style: { left: `calc(${right}% + 6px)` } };
  if (right - left >= 18) return { class: "wf-duration inside", style: { right: `calc(${100 - right}% + 6px)` } };
  return { class: "wf-duration", style: { right: `calc(${100 - left}% + 6px)` } };
}
