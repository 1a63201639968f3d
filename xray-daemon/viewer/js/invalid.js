// The documents the daemon refused, newest first, with the reason.
import { h, getJSON, timestamp, notice } from "./dom.js";

const SHOWN = 2000;

export function render(root) {
  let stopped = false;
  const body = h("div", { id: "invalid-list" }, notice("Loading…"));
  root.append(h("h1", {}, "Invalid documents"),
    h("p", { class: "muted" }, "Datagrams and documents that failed validation, newest first, as received."),
    body);
  (async () => {
    let list;
    try {
      list = await getJSON("/api/invalid?limit=200");
    } catch (error) {
      if (!stopped) body.replaceChildren(notice(error.message, "error"));
      return;
    }
    if (stopped) return;
    if (list.length === 0) {
      body.replaceChildren(notice("Nothing refused so far."));
      return;
    }
    body.replaceChildren(h("table", { class: "invalid", id: "invalid-table" },
      h("thead", {}, h("tr", {}, ["Received", "Reason", "Message", "Document"].map((c) => h("th", {}, c)))),
      h("tbody", {}, list.map((doc) => h("tr", {},
        h("td", { class: "nowrap" }, timestamp(doc.received_at)),
        h("td", {}, h("code", {}, doc.code)),
        h("td", {}, doc.message),
        h("td", {}, h("pre", { class: "json" },
          doc.body.length > SHOWN ? `${doc.body.slice(0, SHOWN)}…` : doc.body)))))));
  })();
  return { stop() { stopped = true; } };
}
