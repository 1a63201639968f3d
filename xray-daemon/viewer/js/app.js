// The viewer's entry point: a small router over the page modules, and the daemon's counters in the header.
import { getJSON } from "./dom.js";
import * as traces from "./traces.js";
import * as trace from "./trace.js";
import * as map from "./map.js";
import * as invalid from "./invalid.js";

const ROUTES = [
  [/^\/$/, "traces", traces.render],
  [/^\/traces\/([^/]+)$/, "traces", trace.render],
  [/^\/map$/, "map", map.render],
  [/^\/invalid$/, "invalid", invalid.render],
];

const main = document.getElementById("main");
let current = null;

// Counted so that tests (and curious people) can see that the Content-Security-Policy never had to block anything.
document.addEventListener("securitypolicyviolation", (event) => {
  const root = document.documentElement;
  root.dataset.cspViolations = String(Number(root.dataset.cspViolations || 0) + 1);
  console.warn("Content-Security-Policy violation:", event.violatedDirective, event.blockedURI);
});

function navigate(url) {
  history.pushState(null, "", url);
  route();
}

function route() {
  if (current && typeof current.stop === "function") current.stop();
  current = null;
  main.replaceChildren();
  const path = location.pathname;
  for (const [pattern, page, render] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    for (const link of document.querySelectorAll("header nav a")) {
      link.classList.toggle("active", link.dataset.page === page);
    }
    current = render(main, match.slice(1).map(decodeURIComponent), navigate) || null;
    return;
  }
  main.append(document.createTextNode("No such page."));
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-nav]");
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", route);

const counters = document.getElementById("counters");
async function refreshCounters() {
  try {
    const stats = await getJSON("/api/stats");
    counters.textContent =
      `${stats.store.traces} traces · ${stats.received} received · ${stats.stored} stored · ` +
      (stats.not_stored ? `${stats.not_stored} not stored · ` : "") +
      `${stats.invalid_total} invalid` + (stats.dropped ? ` · ${stats.dropped} dropped` : "") +
      (stats.forward
        ? ` · to X-Ray: ${stats.forward.sent} sent, ${stats.forward.retried} retried, ${stats.forward.dropped} dropped`
        : "");
    counters.title = stats.forward && stats.forward.last_error
      ? `last forwarding error: ${stats.forward.last_error}`
      : "";
    counters.classList.remove("error");
  } catch (error) {
    counters.textContent = `daemon unreachable: ${error.message}`;
    counters.classList.add("error");
  }
}
refreshCounters();
setInterval(refreshCounters, 2000);

route();
