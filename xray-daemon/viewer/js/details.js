// The details of one segment or subsegment: overview, annotations, metadata, http, sql, aws, the error with its
// stack, and the raw document. Everything is shown as text.
import { h, duration, timestamp, pretty, badge, statusOf } from "./dom.js";

function section(title, ...content) {
  return h("section", { class: "detail-section", dataset: { section: title.toLowerCase() } },
    h("h3", {}, title), ...content);
}

function scalar(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return h("pre", { class: "json" }, pretty(value));
  return String(value);
}

/** A definition list of an object's fields (nested objects as JSON). */
function fields(object, skip = []) {
  const rows = Object.entries(object || {}).filter(([key]) => !skip.includes(key));
  return h("dl", { class: "kv" }, rows.map(([key, value]) => [h("dt", {}, key), h("dd", {}, scalar(value))]));
}

function exceptionView(exception) {
  const stack = Array.isArray(exception.stack) ? exception.stack : [];
  return h("div", { class: "exception" },
    h("p", { class: "exception-title" },
      h("strong", {}, exception.type || "error"), ": ", exception.message || "(no message)",
      exception.remote ? h("span", { class: "tag" }, "remote") : null),
    exception.cause ? h("p", { class: "muted" }, `caused by ${exception.cause}`) : null,
    stack.length
      ? h("ol", { class: "stack" }, stack.map((frame) => h("li", {},
        h("code", {}, frame.label || "?"),
        frame.path ? h("span", { class: "muted" }, ` ${frame.path}${frame.line ? `:${frame.line}` : ""}`) : null)))
      : null,
    exception.truncated ? h("p", { class: "muted" }, `${exception.truncated} frames truncated`) : null,
    exception.skipped ? h("p", { class: "muted" }, `${exception.skipped} exceptions skipped`) : null);
}

function errorView(entity) {
  const cause = entity.cause;
  const status = statusOf(entity);
  if (cause === undefined || cause === null) {
    return status === "ok" ? null : section("Error", h("p", {}, `Marked ${status}; no exception recorded.`));
  }
  if (typeof cause === "string") {
    return section("Error", h("p", {}, "The exception is recorded on a subsegment: ", h("code", {}, cause)));
  }
  const exceptions = Array.isArray(cause.exceptions) ? cause.exceptions : [];
  return section("Error",
    cause.working_directory ? h("p", { class: "muted" }, `in ${cause.working_directory}`) : null,
    exceptions.length ? exceptions.map(exceptionView) : h("p", {}, "No exceptions listed."),
    Array.isArray(cause.paths) && cause.paths.length ? h("p", { class: "muted" }, `paths: ${cause.paths.join(", ")}`) : null);
}

function withoutChildren(entity) {
  const copy = { ...entity };
  if (Array.isArray(copy.subsegments)) copy.subsegments = `[${copy.subsegments.length} subsegments, shown in the waterfall]`;
  return copy;
}

/** The details panel of `entity`; `document` is the document as received, when the entity is one. */
export function details(entity, kind, document, t0) {
  const start = typeof entity.start_time === "number" ? entity.start_time : null;
  const end = typeof entity.end_time === "number" ? entity.end_time : null;
  const status = statusOf(entity);
  const overview = {
    id: entity.id, kind, parent_id: entity.parent_id, trace_id: entity.trace_id, namespace: entity.namespace,
    origin: entity.origin, user: entity.user,
    start: start === null ? undefined : `${timestamp(start)} (+${duration(start - t0)})`,
    end: end === null ? (entity.in_progress ? "in progress" : undefined) : timestamp(end),
    duration: start !== null && end !== null ? duration(end - start) : undefined,
  };
  for (const key of Object.keys(overview)) if (overview[key] === undefined || overview[key] === null) delete overview[key];

  const annotations = entity.annotations && typeof entity.annotations === "object" ? entity.annotations : null;
  const http = entity.http && typeof entity.http === "object" ? entity.http : null;
  return h("div", { class: "details-inner", dataset: { entityId: entity.id || "" } },
    h("h2", {}, entity.name || "(no name)", " ", badge(status)),
    section("Overview", fields(overview)),
    annotations && Object.keys(annotations).length
      ? section("Annotations", h("table", { class: "annotations" },
        h("tbody", {}, Object.entries(annotations).map(([k, v]) =>
          h("tr", {}, h("th", {}, k), h("td", {}, typeof v === "string" ? v : JSON.stringify(v)))))))
      : null,
    entity.metadata ? section("Metadata", h("pre", { class: "json" }, pretty(entity.metadata))) : null,
    http ? section("HTTP",
      http.request ? [h("h4", {}, "Request"), fields(http.request)] : null,
      http.response ? [h("h4", {}, "Response"), fields(http.response)] : null,
      fields(http, ["request", "response"])) : null,
    entity.sql ? section("SQL", fields(entity.sql)) : null,
    entity.aws ? section("AWS", fields(entity.aws)) : null,
    errorView(entity),
    section("Raw document",
      h("p", { class: "muted" }, document ? "As received by the daemon." : "Embedded in its parent's document."),
      h("pre", { class: "json raw" }, pretty(document || withoutChildren(entity)))));
}
