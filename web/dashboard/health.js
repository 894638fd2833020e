// The selected stack's health at a glance (tiles) and its history since
// the page was opened (charts). Both come from the dashboard's own
// readings of the API: every few seconds while automatic refreshing is
// on, and whenever the event stream says tunnels changed. The readings
// are kept in this tab only, in a bounded ring per stack; longer history
// is Grafana's (deploy/grafana/nmigw.json).

import * as api from "./api.js";
import { el, fill } from "./dom.js";
import * as f from "./format.js";
import uPlot from "./uPlot.esm.js";

// KEEP is how many readings a stack keeps: an hour at one every 5 s.
const KEEP = 720;
// PAGES bounds the pages of a list one reading follows.
const PAGES = 20;
// TOP is how many tunnels the top-by-bytes chart shows.
const TOP = 5;
// TREND is the span the activation failures' trend looks back over.
const TREND_MS = 10 * 60 * 1000;
const SEEN_KEY = "nmigw.seen.";

// Ring keeps the last cap items pushed.
export class Ring {
  constructor(cap) {
    this.cap = cap;
    this.items = [];
  }

  push(x) {
    this.items.push(x);
    if (this.items.length > this.cap) {
      this.items.splice(0, this.items.length - this.cap);
    }
  }

  get length() {
    return this.items.length;
  }

  last() {
    return this.items[this.items.length - 1];
  }
}

// stacks keeps each stack's history (by system and stack) for the life of
// the page, so that showing a stack again continues it.
const stacks = new Map();

function historyOf(key) {
  let h = stacks.get(key);
  if (!h) {
    h = { readings: new Ring(KEEP), since: Date.now() };
    stacks.set(key, h);
  }
  return h;
}

// readAll reads every page of a list of the stack.
export async function readAll(system, stack, path, query) {
  const items = [];
  let pageToken = "";
  for (let i = 0; i < PAGES; i++) {
    const { data } = await api.get(api.stackURL(system, stack, path, { ...query, pageSize: 500, pageToken }));
    items.push(...(Array.isArray(data.items) ? data.items : []));
    pageToken = data.nextPageToken || "";
    if (!pageToken) {
      break;
    }
  }
  return items;
}

export const counter = (c, k) => (c && typeof c[k] === "number" ? c[k] : 0);

// category is a tunnel state as the tiles count it.
function category(state) {
  switch (state) {
    case "active":
      return "active";
    case "expired":
      return "expired";
    case "inactive":
      return "inactive";
    default:
      return "inProgress";
  }
}

// newest keeps the newest generation of each tunnel of a list.
function newest(items) {
  const m = new Map();
  for (const t of items) {
    const g = typeof t.generation === "number" ? t.generation : 0;
    const had = m.get(t.tunnelId);
    if (!had || (typeof had.generation === "number" ? had.generation : 0) < g) {
      m.set(t.tunnelId, t);
    }
  }
  return [...m.values()];
}

function trafficOf(t) {
  const tr = (t.stackView && t.stackView.traffic) || t.traffic || {};
  return {
    bytes: counter(tr, "inboundBytes") + counter(tr, "outboundBytes"),
    packets: counter(tr, "inboundPackets") + counter(tr, "outboundPackets"),
  };
}

// read takes one reading of the stack: the summary and the IKE, dynamic
// and manual tunnels, with the time the tunnels' counters were read.
async function read(system, stack) {
  const before = Date.now();
  const [summary, ike, dyn, man] = await Promise.all([
    api.get(api.stackURL(system, stack, "summary")).then((r) => r.data),
    readAll(system, stack, "ike/tunnels"),
    readAll(system, stack, "tunnels/dynamic"),
    readAll(system, stack, "tunnels/manual"),
  ]);
  const t = Math.round((before + Date.now()) / 2);
  const traffic = new Map(); // "ID/generation" -> {id, bytes, packets}
  for (const x of [...dyn, ...man]) {
    traffic.set(x.tunnelId + "/" + (x.generation || 0), { id: x.tunnelId, ...trafficOf(x) });
  }
  let act = 0;
  let fail = 0;
  for (const k of ["ikeTunnels", "dynamicTunnels"]) {
    const c = summary[k];
    act += counter(c, "localActivationSuccesses") + counter(c, "remoteActivationSuccesses");
    fail += counter(c, "localActivationFailures") + counter(c, "remoteActivationFailures");
  }
  return { t, summary, ike, dyn, man, traffic, act, fail };
}

// totals sums a reading's counters per tunnel ID over its generations.
function totals(r) {
  const m = new Map();
  for (const x of r.traffic.values()) {
    const s = m.get(x.id) || { bytes: 0, packets: 0 };
    s.bytes += x.bytes;
    s.packets += x.packets;
    m.set(x.id, s);
  }
  return m;
}

// carried is what tunnel id carried from reading a to reading b: the
// growth of each generation b lists (from 0 for one a did not list), or
// null when a counter went back (a generation was dropped and counted
// again).
function carried(a, b, id) {
  let bytes = 0;
  let packets = 0;
  let any = false;
  for (const [key, x] of b.traffic) {
    if (x.id !== id) {
      continue;
    }
    any = true;
    const was = a.traffic.get(key) || { bytes: 0, packets: 0 };
    if (x.bytes < was.bytes || x.packets < was.packets) {
      return null;
    }
    bytes += x.bytes - was.bytes;
    packets += x.packets - was.packets;
  }
  return any ? { bytes, packets } : null;
}

// rateSeries is tunnel id's throughput between successive readings: per
// reading after the first, its time (seconds), bytes/s and packets/s,
// and the counters read.
export function rateSeries(readings, id) {
  const out = [];
  for (let i = 1; i < readings.length; i++) {
    const a = readings[i - 1];
    const b = readings[i];
    const c = carried(a, b, id);
    const dt = (b.t - a.t) / 1000;
    const tot = totals(b).get(id);
    out.push({
      t: b.t,
      bytesPerSecond: c && dt > 0 ? c.bytes / dt : null,
      packetsPerSecond: c && dt > 0 ? c.packets / dt : null,
      bytes: tot ? tot.bytes : null,
      packets: tot ? tot.packets : null,
    });
  }
  return out;
}

function readSeen(stack) {
  try {
    const v = JSON.parse(localStorage.getItem(SEEN_KEY + stack) || "null");
    return v && typeof v.fail === "number" && typeof v.at === "number" ? v : null;
  } catch {
    return null;
  }
}

function writeSeen(stack, v) {
  try {
    localStorage.setItem(SEEN_KEY + stack, JSON.stringify(v));
  } catch {
    // Storage refused: the baseline lasts as long as the page.
  }
}

// ---- tiles ---------------------------------------------------------------

// tileLink is a link to a list of the stack filtered to tunnel IDs ids.
function tileLink(h, list, ids, text) {
  if (!ids.length) {
    return el("span", {}, text);
  }
  const a = el("a", { href: h.hrefOf(list, ids), "data-list": list, "data-ids": ids.join(" ") }, text);
  a.addEventListener("click", (ev) => {
    ev.preventDefault();
    h.open(list, ids);
  });
  return a;
}

const STATUS_TEXT = { ok: "OK", warn: "Attention", bad: "Problem", info: "" };

function tile(key, title, status, value, ...details) {
  return el("div", { className: "tile tile-" + status, "data-tile": key, "data-status": status, role: "group", "aria-labelledby": "tile-" + key },
    el("h4", { id: "tile-" + key }, title, STATUS_TEXT[status] ? el("span", { className: "tile-status" }, STATUS_TEXT[status]) : null),
    el("p", { className: "tile-value" }, value),
    details.filter(Boolean).map((d) => el("p", { className: "tile-detail" }, d)));
}

// byState counts a kind's tunnel generations by category and lists the
// IDs with a generation in each.
export function byState(items) {
  const n = { active: 0, inProgress: 0, expired: 0, inactive: 0 };
  const ids = { active: new Set(), inProgress: new Set(), expired: new Set(), inactive: new Set() };
  for (const t of items) {
    const c = category(t.state);
    n[c]++;
    ids[c].add(t.tunnelId);
  }
  return { n, ids: Object.fromEntries(Object.entries(ids).map(([k, v]) => [k, [...v]])) };
}

function stateTile(h, key, title, list, items, counts) {
  const s = byState(items);
  const n = counts || s.n;
  const status = n.active === 0 && n.inProgress + n.expired > 0 ? "bad" : n.inProgress > 0 ? "warn" : "ok";
  const t = tile(key, title, status,
    tileLink(h, list, s.ids.active, f.num(n.active) + " active"),
    [tileLink(h, list, s.ids.inProgress, f.num(n.inProgress) + " in progress"), " · ",
      tileLink(h, list, s.ids.expired, f.num(n.expired) + " expired")]);
  t.dataset.active = String(n.active);
  t.dataset.inProgress = String(n.inProgress);
  t.dataset.expired = String(n.expired);
  return t;
}

function manualTile(h, items) {
  const s = byState(items);
  const status = s.n.inactive + s.n.expired > 0 ? "warn" : "ok";
  const t = tile("manual", "Manual tunnels", status,
    tileLink(h, "manual", s.ids.active, f.num(s.n.active) + " active"),
    tileLink(h, "manual", [...s.ids.inactive, ...s.ids.expired], f.num(s.n.inactive + s.n.expired) + " inactive"));
  t.dataset.active = String(s.n.active);
  t.dataset.inactive = String(s.n.inactive + s.n.expired);
  return t;
}

function failuresTile(h, r) {
  const seen = h.seen;
  const fresh = Math.max(0, r.fail - seen.fail);
  // The trend: failures counted over the last TREND_MS of this page's readings.
  const items = h.hist.readings.items;
  const from = items.find((x) => x.t >= r.t - TREND_MS) || r;
  const grew = r.fail - from.fail;
  const span = Math.max(1, Math.round((r.t - from.t) / 60000));
  const trend = from === r ? "No trend yet: one reading."
    : grew > 0 ? "Rising: " + f.num(grew) + " in the last " + span + " min."
      : "Steady: none in the last " + span + " min.";
  const mark = el("button", { type: "button", "data-seen": "" }, "Mark as seen");
  mark.addEventListener("click", () => {
    h.seen = { fail: r.fail, at: Date.now() };
    writeSeen(h.key, h.seen);
    h.render();
  });
  const t = tile("failures", "Activation failures", fresh > 0 ? "bad" : "ok",
    el("a", { href: "#section-summary" }, f.num(fresh) + " new since " + f.time(seen.at)),
    f.num(r.fail) + " in all (IKE and dynamic, local and remote).", trend, mark);
  t.dataset.new = String(fresh);
  t.dataset.total = String(r.fail);
  t.dataset.trend = String(from === r ? "" : grew);
  return t;
}

// idle finds the tunnels active over the whole of the last idleMs that
// carried 0 bytes in it; null until the readings span idleMs.
export function idle(readings, idleMs) {
  const r = readings[readings.length - 1];
  let from = null;
  for (const x of readings) {
    if (x.t <= r.t - idleMs) {
      from = x;
    }
  }
  if (!from) {
    return null;
  }
  const wasActive = new Set([...from.dyn, ...from.man].filter((t) => t.state === "active").map((t) => t.tunnelId));
  const ids = [];
  for (const t of newest([...r.dyn, ...r.man])) {
    if (t.state !== "active" || !wasActive.has(t.tunnelId)) {
      continue;
    }
    const c = carried(from, r, t.tunnelId);
    if (c && c.bytes === 0) {
      ids.push(t.tunnelId);
    }
  }
  return { ids, from };
}

function idleTile(h, r) {
  const found = idle(h.hist.readings.items, h.idleMs);
  const span = h.idleMs >= 60000 ? h.idleMs / 60000 + " min" : h.idleMs / 1000 + " s";
  if (!found) {
    const seen = Math.round((r.t - h.hist.readings.items[0].t) / 1000);
    const t = tile("idle", "Active, carrying nothing", "info", "Watching",
      "Counted once this page has read the tunnels for " + span + " (" + seen + " s so far).");
    t.dataset.value = "";
    return t;
  }
  const dynIds = found.ids.filter((id) => r.dyn.some((t) => t.tunnelId === id));
  const manIds = found.ids.filter((id) => !dynIds.includes(id));
  const t = tile("idle", "Active, carrying nothing", found.ids.length ? "warn" : "ok",
    [tileLink(h, "dynamic", dynIds, f.num(dynIds.length) + " dynamic"), " · ",
      tileLink(h, "manual", manIds, f.num(manIds.length) + " manual")],
    "Active tunnels whose byte counters did not move in the last " + span + ".");
  t.dataset.value = String(found.ids.length);
  t.dataset.ids = found.ids.join(" ");
  return t;
}

// expiring finds the active tunnels (newest generations) within their
// refresh margin: the last tenth of their lifetime, where IKE refreshes
// them. One still there is not being refreshed.
export function expiring(items, now) {
  const ids = [];
  for (const t of newest(items)) {
    const exp = Date.parse(t.expireTime || "");
    const life = typeof t.lifetimeSeconds === "number" ? t.lifetimeSeconds * 1000 : 0;
    if (t.state === "active" && life > 0 && !Number.isNaN(exp) && exp - now <= life / 10) {
      ids.push(t.tunnelId);
    }
  }
  return ids;
}

function expiringTile(h, r) {
  const dynIds = expiring(r.dyn, r.t);
  const ikeIds = expiring(r.ike, r.t);
  const n = dynIds.length + ikeIds.length;
  const t = tile("expiring", "Expiring within the refresh margin", n ? "warn" : "ok",
    [tileLink(h, "dynamic", dynIds, f.num(dynIds.length) + " dynamic"), " · ",
      tileLink(h, "ike", ikeIds, f.num(ikeIds.length) + " IKE")],
    "Active tunnels in the last tenth of their lifetime, where IKE refreshes them.");
  t.dataset.value = String(n);
  t.dataset.ids = [...ikeIds, ...dynIds].join(" ");
  return t;
}

function filterSetTile(h) {
  const set = h.filterSet();
  const status = set === "policy" ? "ok" : set === "default" ? "warn" : "info";
  const a = el("a", { href: h.hrefOf("filters", []) }, f.text(set));
  a.addEventListener("click", (ev) => {
    ev.preventDefault();
    h.open("filters", []);
  });
  const t = tile("filterSet", "Filter set in effect", status, a,
    set === "default" ? "The TCP/IP profile's default rules: tunnels carry no traffic." : set === "policy" ? "The policy's rules." : null);
  t.dataset.value = String(set || "");
  return t;
}

// ---- charts --------------------------------------------------------------

const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");

// fromZero is a y scale's range: from 0 to a little above the largest value.
const fromZero = (u, min, max) => [0, max > 0 ? max * 1.15 : 1];

function chartOpts(title, width, series, axes) {
  return {
    title, width, height: 220, tzDate: utc,
    scales: { x: { time: true }, y: { range: fromZero }, B: { range: fromZero }, p: { range: fromZero } },
    series: [{ label: "Time (UTC)", value: (u, v) => (v == null ? "—" : f.clock(v * 1000)) }, ...series],
    axes: [{ space: 90, values: (u, vals) => vals.map((v) => f.clock(v * 1000)) }, ...axes],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
}

// dataTable is the text alternative of a chart: its points as a table
// (the dashboard's test also reads it).
function dataTable(id, caption, headers, rows) {
  return el("details", { className: "chart-data" },
    el("summary", {}, "Data of this chart (" + rows.length + " points)"),
    el("div", { className: "scroll", tabIndex: 0, role: "region", "aria-label": caption },
      el("table", { id },
        el("caption", {}, caption),
        el("thead", {}, el("tr", {}, headers.map((x) => el("th", { scope: "col" }, x)))),
        el("tbody", {}, rows))));
}

function plot(h, key, opts, data) {
  const box = h.charts[key];
  const width = Math.max(320, Math.min(box.clientWidth || 640, 1300));
  if (!h.plots[key] || h.plots[key].width !== width) {
    if (h.plots[key]) {
      h.plots[key].destroy();
    }
    fill(box);
    h.plots[key] = new uPlot(opts(width), data, box);
  } else {
    h.plots[key].setData(data);
  }
}

function throughputChart(h) {
  const rs = h.hist.readings.items;
  const last = rs[rs.length - 1];
  const ids = [...totals(last).keys()].sort();
  if (!h.tunnel || !ids.includes(h.tunnel)) {
    const top = [...totals(last)].sort((a, b) => b[1].bytes - a[1].bytes)[0];
    h.tunnel = top ? top[0] : "";
  }
  fill(h.tunnelSelect, ids.map((id) => el("option", { value: id, selected: id === h.tunnel }, id)));
  const pts = h.tunnel ? rateSeries(rs, h.tunnel) : [];
  plot(h, "throughput", (w) => chartOpts("Throughput of tunnel " + h.tunnel, w,
    [{ label: "bytes/s", stroke: "#0b5cad", width: 2, scale: "B", value: (u, v) => f.rate(v) },
      { label: "packets/s", stroke: "#a4400e", width: 2, dash: [6, 3], scale: "p", value: (u, v) => f.rate(v) }],
    [{ scale: "B", label: "bytes/s", size: 70, values: (u, vals) => vals.map(f.rate) },
      { scale: "p", label: "packets/s", side: 1, size: 60, grid: { show: false }, values: (u, vals) => vals.map(f.rate) }]),
  [pts.map((p) => p.t / 1000), pts.map((p) => p.bytesPerSecond), pts.map((p) => p.packetsPerSecond)]);
  h.charts.throughput.setAttribute("aria-label", "Throughput of tunnel " + h.tunnel + " in bytes and packets per second since the page was opened; the data follow as a table.");
  fill(h.tables.throughput, dataTable("chart-throughput-data", "Throughput of tunnel " + h.tunnel + ", from successive readings",
    ["Read at", "Bytes (counter)", "Packets (counter)", "Bytes/s", "Packets/s"],
    pts.map((p) => el("tr", { "data-t": p.t, "data-bytes": p.bytes, "data-packets": p.packets, "data-bps": p.bytesPerSecond, "data-pps": p.packetsPerSecond },
      el("td", {}, f.time(p.t)), el("td", { className: "num" }, f.num(p.bytes)), el("td", { className: "num" }, f.num(p.packets)),
      el("td", { className: "num" }, f.rate(p.bytesPerSecond)), el("td", { className: "num" }, f.rate(p.packetsPerSecond))))));
  h.tables.throughput.querySelector("table").dataset.tunnel = h.tunnel;
}

function activationsChart(h) {
  const rs = h.hist.readings.items;
  const pts = [];
  for (let i = 1; i < rs.length; i++) {
    pts.push({ t: rs[i].t, act: rs[i].act - rs[i - 1].act, fail: rs[i].fail - rs[i - 1].fail, actTotal: rs[i].act, failTotal: rs[i].fail });
  }
  plot(h, "activations", (w) => chartOpts("Activations and failures per reading", w,
    [{ label: "activations", stroke: "#116329", width: 2, value: (u, v) => f.num(v) },
      { label: "failures", stroke: "#a40e26", width: 2, dash: [6, 3], value: (u, v) => f.num(v) }],
    [{ label: "count", size: 50 }]),
  [pts.map((p) => p.t / 1000), pts.map((p) => p.act), pts.map((p) => p.fail)]);
  fill(h.tables.activations, dataTable("chart-activations-data", "Activations and failures (IKE and dynamic) between successive readings",
    ["Read at", "Activations", "Failures", "Activations in all", "Failures in all"],
    pts.map((p) => el("tr", { "data-t": p.t, "data-act": p.act, "data-fail": p.fail, "data-act-total": p.actTotal, "data-fail-total": p.failTotal },
      el("td", {}, f.time(p.t)), el("td", { className: "num" }, f.num(p.act)), el("td", { className: "num" }, f.num(p.fail)),
      el("td", { className: "num" }, f.num(p.actTotal)), el("td", { className: "num" }, f.num(p.failTotal))))));
}

function topChart(h) {
  const rs = h.hist.readings.items;
  const last = rs[rs.length - 1];
  const prev = rs.length > 1 ? rs[rs.length - 2] : null;
  const top = [...totals(last)].sort((a, b) => b[1].bytes - a[1].bytes || (a[0] < b[0] ? -1 : 1)).slice(0, TOP);
  const max = top.length ? Math.max(1, top[0][1].bytes) : 1;
  const rows = top.map(([id, s]) => {
    const c = prev ? carried(prev, last, id) : null;
    const dt = prev ? (last.t - prev.t) / 1000 : 0;
    const bar = el("span", { className: "bar" });
    bar.style.width = Math.max(0.5, (s.bytes / max) * 100).toFixed(1) + "%";
    return el("tr", { "data-tunnel-id": id, "data-bytes": s.bytes },
      el("th", { scope: "row" }, id),
      el("td", { className: "bar-cell" }, bar),
      el("td", { className: "num" }, f.num(s.bytes)),
      el("td", { className: "num" }, c && dt > 0 ? f.rate(c.bytes / dt) : "—"));
  });
  fill(h.charts.top, el("div", { className: "scroll", tabIndex: 0, role: "region", "aria-label": "Top " + TOP + " tunnels by bytes" },
    el("table", { id: "chart-top" },
      el("caption", {}, "Top " + TOP + " tunnels by bytes carried (in and out), as read at " + f.time(last.t)),
      el("thead", {}, el("tr", {}, ["Tunnel", "Share of the largest", "Bytes", "Bytes/s now"].map((x) => el("th", { scope: "col" }, x)))),
      el("tbody", {}, rows))));
}

// ---- the view ------------------------------------------------------------

// createHealth makes the health view of stack of system. opts: sampleMs (between
// readings), idleMs (the window of the idle tile), isOn() (whether to
// read on a timer), filterSet() (the stack's filter set in effect, from
// the stacks list), hrefOf(list, ids) and open(list, ids) (a link to a
// list filtered to tunnel IDs, and following it).
export function createHealth(system, stack, opts) {
  const key = system + "/" + stack;
  const h = {
    stack, key, ...opts, hist: historyOf(key), plots: {}, timer: 0, reading: null, stopped: false, tunnel: "",
  };
  h.seen = readSeen(key);
  h.tiles = el("div", { className: "tiles", id: "tiles", "aria-live": "off" });
  h.error = el("p", { className: "help", role: "status" });
  h.charts = {
    // Focusable: a chart wider than its box scrolls.
    throughput: el("div", { className: "chart", id: "chart-throughput", role: "img", tabIndex: 0,
      "aria-label": "Throughput of a tunnel in bytes and packets per second, once the stack has been read." }),
    activations: el("div", { className: "chart", id: "chart-activations", role: "img", tabIndex: 0,
      "aria-label": "Activations and failures per reading since the page was opened; the data follow as a table." }),
    top: el("div", { className: "chart", id: "chart-top-box" }),
  };
  h.tables = { throughput: el("div"), activations: el("div") };
  h.tunnelSelect = el("select", { id: "chart-tunnel" });
  h.tunnelSelect.addEventListener("change", () => {
    h.tunnel = h.tunnelSelect.value;
    throughputChart(h);
  });
  h.note = el("p", { className: "help", id: "history-note" });
  h.node = el("div", {},
    el("section", { "aria-labelledby": "health-title", id: "section-health" },
      el("h3", { id: "health-title" }, "Health at a glance"), h.tiles, h.error),
    el("section", { "aria-labelledby": "charts-title", id: "section-charts" },
      el("h3", { id: "charts-title" }, "Charts"), h.note,
      el("div", { className: "charts" },
        el("figure", {}, el("div", { className: "toolbar" }, el("label", { for: "chart-tunnel" }, "Tunnel"), h.tunnelSelect),
          h.charts.throughput, h.tables.throughput),
        el("figure", {}, h.charts.activations, h.tables.activations),
        el("figure", {}, h.charts.top))));

  h.render = () => {
    const r = h.hist.readings.last();
    if (!r) {
      fill(h.tiles, el("p", { className: "help" }, "Reading the stack…"));
      return;
    }
    if (!h.seen) {
      h.seen = { fail: r.fail, at: r.t };
      writeSeen(key, h.seen);
    } else if (r.fail < h.seen.fail) {
      // The counters started again (a restart): so does the baseline.
      h.seen = { fail: 0, at: r.t };
      writeSeen(key, h.seen);
    }
    const s = r.summary || {};
    fill(h.tiles,
      stateTile(h, "ike", "IKE tunnels", "ike", r.ike, s.ikeTunnels && {
        active: counter(s.ikeTunnels, "active"), inProgress: counter(s.ikeTunnels, "inProgress"), expired: counter(s.ikeTunnels, "expired"),
      }),
      stateTile(h, "dynamic", "Dynamic tunnels", "dynamic", r.dyn, s.dynamicTunnels && {
        active: counter(s.dynamicTunnels, "active"), inProgress: counter(s.dynamicTunnels, "inProgress"), expired: counter(s.dynamicTunnels, "expired"),
      }),
      manualTile(h, r.man), failuresTile(h, r), idleTile(h, r), expiringTile(h, r), filterSetTile(h));
    h.tiles.dataset.readAt = String(r.t);
    h.tiles.dataset.readings = String(h.hist.readings.length);
    const every = h.sampleMs >= 1000 && h.sampleMs % 1000 === 0 ? h.sampleMs / 1000 + " s" : h.sampleMs + " ms";
    h.note.textContent = "History begins when this page was opened, at " + f.time(h.hist.since) + "; " +
      h.hist.readings.length + " readings, one every " + every + " and at each event, the last " + KEEP +
      " kept in this tab only. For longer history, use Grafana with the dashboard in deploy/grafana/nmigw.json.";
    throughputChart(h);
    activationsChart(h);
    topChart(h);
  };

  // sample takes a reading now (one at a time; a call during a reading
  // takes one more after it) and shows it.
  h.sample = async () => {
    if (h.reading) {
      h.again = true;
      return h.reading;
    }
    h.reading = (async () => {
      do {
        h.again = false;
        try {
          const r = await read(system, stack);
          if (h.stopped) {
            return;
          }
          h.hist.readings.push(r);
          h.error.textContent = "";
          h.render();
        } catch (err) {
          h.error.textContent = "The last reading failed (" + f.text(err && (err.status || err.message)) + "); the tiles show the one before.";
        }
      } while (h.again && !h.stopped);
    })();
    try {
      await h.reading;
    } finally {
      h.reading = null;
    }
  };

  const tick = async () => {
    if (h.stopped) {
      return;
    }
    if (h.isOn()) {
      await h.sample();
    }
    if (!h.stopped) {
      h.timer = setTimeout(tick, h.sampleMs);
    }
  };
  h.destroy = () => {
    h.stopped = true;
    clearTimeout(h.timer);
    for (const p of Object.values(h.plots)) {
      p.destroy();
    }
  };
  h.render();
  tick();
  return h;
}
