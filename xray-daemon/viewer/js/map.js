// The service map: nodes and edges from GET /api/map, laid out in columns by call depth, drawn as SVG.
import { h, s, getJSON, duration, percent, notice, rangeSelect, rangeFrom } from "./dom.js";

const NODE_W = 200;
const NODE_H = 66;
const COL_GAP = 240;
const ROW_GAP = 56;
const MARGIN = 30;

/** Columns: each node one column right of its furthest caller (cycles broken), rows sorted by id. */
function layout(nodes, edges) {
  const ids = nodes.map((n) => n.id);
  const incoming = new Map(ids.map((id) => [id, []]));
  for (const e of edges) if (incoming.has(e.target) && incoming.has(e.source) && e.source !== e.target) {
    incoming.get(e.target).push(e.source);
  }
  const level = new Map();
  const visiting = new Set();
  function depth(id) {
    if (level.has(id)) return level.get(id);
    if (visiting.has(id)) return 0; // a cycle: the back edge does not push the node right
    visiting.add(id);
    let d = 0;
    for (const source of incoming.get(id)) d = Math.max(d, depth(source) + 1);
    visiting.delete(id);
    level.set(id, d);
    return d;
  }
  for (const id of ids) depth(id);
  const columns = [];
  for (const node of nodes) {
    const d = level.get(node.id);
    (columns[d] = columns[d] || []).push(node);
  }
  // Rows: the first column by how much each node calls, then by name; the others by the mean row of their
  // callers (fewer crossings), then by kind and name. Deterministic for the same map.
  const row = new Map();
  const outgoing = new Map(ids.map((id) => [id, 0]));
  for (const e of edges) if (outgoing.has(e.source)) outgoing.set(e.source, outgoing.get(e.source) + 1);
  const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const position = new Map();
  columns.forEach((column, c) => {
    if (!column) return;
    const weight = new Map(column.map((node) => {
      const rows = incoming.get(node.id).filter((id) => row.has(id)).map((id) => row.get(id));
      return [node.id, rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : Infinity];
    }));
    column.sort((a, b) => c === 0
      ? outgoing.get(b.id) - outgoing.get(a.id) || byName(a, b)
      : weight.get(a.id) - weight.get(b.id) || (a.kind === b.kind ? 0 : a.kind === "service" ? -1 : 1) || byName(a, b));
    column.forEach((node, r) => {
      row.set(node.id, r);
      position.set(node.id, {
        x: MARGIN + c * (NODE_W + COL_GAP),
        y: MARGIN + r * (NODE_H + ROW_GAP),
      });
    });
  });
  const rows = Math.max(1, ...columns.map((c) => (c ? c.length : 0)));
  return {
    position,
    width: MARGIN * 2 + columns.length * NODE_W + Math.max(0, columns.length - 1) * COL_GAP,
    height: MARGIN * 2 + rows * NODE_H + (rows - 1) * ROW_GAP + 40,
  };
}

function health(stats) {
  if (stats.faults > 0) return "fault";
  if (stats.throttles > 0) return "throttle";
  if (stats.errors > 0) return "error";
  return "ok";
}

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function latency(stats) {
  return stats.latency ? `avg ${duration(stats.latency.avg)} · p95 ${duration(stats.latency.p95)}` : "no latency yet";
}

function edgeLabel(stats) {
  return [`${stats.requests} req · err ${percent(stats.error_rate)} · fault ${percent(stats.fault_rate)}`, latency(stats)];
}

function draw(map, navigate) {
  const { position, width, height } = layout(map.nodes, map.edges);
  const byId = new Map(map.nodes.map((n) => [n.id, n]));
  const svg = s("svg", { class: "map", id: "map-svg", viewBox: `0 0 ${width} ${height}`, width, height,
    role: "img", "aria-label": "Service map" });
  svg.append(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5",
    markerWidth: "8", markerHeight: "8", orient: "auto-start-reverse" }, s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }))));

  const labels = [];
  for (const edge of map.edges) {
    const a = position.get(edge.source);
    const b = position.get(edge.target);
    if (!a || !b) continue;
    let d;
    let mid;
    if (edge.source === edge.target) {
      d = `M${a.x + NODE_W * 0.65},${a.y} C${a.x + NODE_W * 0.65},${a.y - 50} ${a.x + NODE_W * 0.35},${a.y - 50} ${a.x + NODE_W * 0.35},${a.y}`;
      mid = { x: a.x + NODE_W / 2, y: a.y - 44 };
    } else if (b.x > a.x) {
      const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
      const dx = (x2 - x1) / 2;
      d = `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
      mid = { x: (x1 + x2) / 2, y: (y1 + y2) / 2 };
    } else {
      // A call back to an earlier column: a curve under the nodes.
      const x1 = a.x + NODE_W / 2, y1 = a.y + NODE_H, x2 = b.x + NODE_W / 2, y2 = b.y + NODE_H;
      const low = Math.max(y1, y2) + 60;
      d = `M${x1},${y1} C${x1},${low} ${x2},${low} ${x2},${y2}`;
      mid = { x: (x1 + x2) / 2, y: low - 14 };
    }
    const status = health(edge.stats);
    svg.append(s("path", { d, class: `edge edge-${status}`, "marker-end": "url(#arrow)",
      dataset: { source: edge.source, target: edge.target } },
      s("title", {}, `${byId.get(edge.source)?.name} → ${byId.get(edge.target)?.name}\n${edgeLabel(edge.stats).join("\n")}`)));
    labels.push([mid, edge, status]);
  }
  for (const [mid, edge, status] of labels) {
    const [line1, line2] = edgeLabel(edge.stats);
    const w = Math.max(line1.length, line2.length) * 6.6 + 14;
    svg.append(s("g", { class: `edge-label edge-label-${status}`, transform: `translate(${mid.x - w / 2},${mid.y - 17})` },
      s("rect", { width: w, height: 34, rx: 4 }),
      s("text", { x: 6, y: 14 }, line1),
      s("text", { x: 6, y: 28 }, line2)));
  }
  for (const node of map.nodes) {
    const p = position.get(node.id);
    const status = health(node.stats);
    const group = s("g", { class: `node node-${node.kind} node-${status}`, transform: `translate(${p.x},${p.y})`,
      tabindex: node.kind === "service" ? "0" : null, dataset: { nodeId: node.id, name: node.name } },
      s("title", {}, `${node.name} (${node.type})\n${node.stats.requests} requests · ${latency(node.stats)}`),
      s("rect", { width: NODE_W, height: NODE_H, rx: node.kind === "service" ? 8 : 30 }),
      s("text", { x: 12, y: 22, class: "node-name" }, clip(node.name, 26)),
      s("text", { x: 12, y: 39, class: "node-type" }, clip(node.type, 30)),
      s("text", { x: 12, y: 56, class: "node-stats" },
        clip(`${node.stats.requests} req · ${node.stats.latency ? duration(node.stats.latency.avg) : "—"} avg` +
          (node.stats.faults ? ` · ${percent(node.stats.fault_rate)} fault` : ""), 32)));
    if (node.kind === "service") {
      const open = () => navigate(`/?service=${encodeURIComponent(node.name)}`);
      group.addEventListener("click", open);
      group.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    }
    svg.append(group);
  }
  return svg;
}

function edgeTable(map) {
  const byId = new Map(map.nodes.map((n) => [n.id, n]));
  const name = (id) => {
    const node = byId.get(id);
    return node ? [node.name, h("span", { class: "muted" }, ` ${node.type}`)] : id;
  };
  return h("table", { class: "edges", id: "edge-table" },
    h("thead", {}, h("tr", {}, ["Caller", "Callee", "Requests", "Errors", "Throttles", "Faults", "Avg", "p95"]
      .map((c) => h("th", {}, c)))),
    h("tbody", {}, map.edges.map((e) => h("tr", {},
      h("td", {}, name(e.source)), h("td", {}, name(e.target)),
      h("td", { class: "num" }, String(e.stats.requests)),
      h("td", { class: "num" }, percent(e.stats.error_rate)),
      h("td", { class: "num" }, percent(e.stats.throttle_rate)),
      h("td", { class: "num" }, percent(e.stats.fault_rate)),
      h("td", { class: "num" }, e.stats.latency ? duration(e.stats.latency.avg) : "—"),
      h("td", { class: "num" }, e.stats.latency ? duration(e.stats.latency.p95) : "—")))));
}

export function render(root, _params, navigate) {
  const query = new URLSearchParams(location.search);
  const range = rangeSelect(query.get("range") || "all", () => {
    history.replaceState(null, "", range.value === "all" ? "/map" : `/map?range=${range.value}`);
    load();
  }, "map-range");
  const summary = h("p", { class: "muted", id: "map-summary" });
  const canvas = h("div", { class: "map-canvas", id: "map-canvas" }, notice("Loading…"));
  const table = h("div", { id: "map-edges" });
  root.append(h("h1", {}, "Service map"),
    h("form", { class: "filters", on: { submit: (e) => e.preventDefault() } }, h("label", {}, "Time range", range)),
    summary, canvas, table);
  let stopped = false;
  let generation = 0;

  async function load() {
    const mine = ++generation;
    const params = new URLSearchParams();
    const from = rangeFrom(range.value);
    if (from !== null) params.set("from", String(from));
    let map;
    try {
      map = await getJSON(`/api/map?${params}`);
    } catch (error) {
      if (!stopped && mine === generation) canvas.replaceChildren(notice(error.message, "error"));
      return;
    }
    if (stopped || mine !== generation) return;
    summary.textContent = `${map.nodes.length} nodes, ${map.edges.length} edges, from ${map.traces} traces` +
      (map.truncated ? " (the newest only)" : "") + ". Click a service to see its traces.";
    if (map.nodes.length === 0) {
      canvas.replaceChildren(notice("No traces in this time range."));
      table.replaceChildren();
      return;
    }
    canvas.replaceChildren(draw(map, navigate));
    table.replaceChildren(h("h2", {}, "Edges"), edgeTable(map));
  }

  load();
  const timer = setInterval(load, 10000);
  return { stop() { stopped = true; clearInterval(timer); } };
}
