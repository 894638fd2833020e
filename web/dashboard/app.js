// The nmigw dashboard: stacks, and for the selected stack its summary,
// tunnels, port translations, filter rules and interfaces and a packet
// test against the filter set, the lists kept up to date by the
// stack's event stream, and by conditional GETs every few seconds while
// the stream is down (every minute while it is up); control actions, each
// confirmed first, for callers whose GET /v1/whoami says CONTROL. With
// several systems (GET /v1/systems), a selector chooses the system whose
// stacks are shown, and an overview shows every system with its tunnels
// by state (fleet.js). Every stack is read under its system
// (/v1/systems/{system}/stacks/{stack}/...). The selected system and
// stack and each list's filters, view and page size (and whether the IKE
// tunnels show their phase 2 tunnels) live in the URL's hash.

import * as api from "./api.js";
import { confirmAction } from "./confirm.js";
import { el, fill, table } from "./dom.js";
import { createFleet } from "./fleet.js";
import * as f from "./format.js";
import { createHealth } from "./health.js";
import { follow } from "./live.js";

const PAGE_SIZES = [10, 25, 50, 100, 500];

// The page's query may set the polling interval in seconds (?poll=, with
// or without the event stream) and the event stream's own polling of the
// NMI (?interval=, as the API takes it, e.g. 2s).
const settings = (() => {
  const q = new URLSearchParams(location.search);
  const poll = Number(q.get("poll"));
  const given = Number.isFinite(poll) && poll > 0;
  const interval = q.get("interval") || "";
  // ?idle= is the window of the "carrying nothing" tile (e.g. 5m, 30s).
  const idle = /^([0-9]+)(s|m)$/.exec(q.get("idle") || "");
  return {
    pollMs: given ? poll * 1000 : 5000, // while the stream is down
    livePollMs: given ? poll * 1000 : 60000, // while it is up: a safety net
    sampleMs: given ? poll * 1000 : 5000, // the health tiles' and charts' readings
    idleMs: idle && Number(idle[1]) > 0 ? Number(idle[1]) * (idle[2] === "m" ? 60000 : 1000) : 5 * 60000,
    interval: /^[0-9]+(ms|s|m)$/.test(interval) ? interval : "",
  };
})();

const $ = (id) => document.getElementById(id);

const page = {
  who: null, // GET /v1/whoami, or null when it failed
  systems: null, // GET /v1/systems answer
  system: "", // the selected system's name
  stacks: null, // GET /v1/systems/{system}/stacks answer
  stack: "", // the selected stack's name
  view: null, // the selected stack's sections
  errors: new Map(), // page-wide problems by source
  rules: new Set(), // LocalDynVpnRule names seen, for the activate form
  hash: "", // the hash the page wrote last
  polls: 0, // rounds that read everything
  events: 0, // events received
  live: null, // the event stream followed: {key, stack, token, stop, up}
  dirty: new Set(), // sections events asked to read again
  lastAction: null, // the last control action: {place, list, node, row}
};

// fleet is the overview of every system; choosing one there shows it.
const fleet = createFleet({ choose: (name) => {
  chooseSystem(name);
  $("stacks-title").scrollIntoView({ block: "start" });
  $("system").focus();
} });

// ---- rights --------------------------------------------------------------

// rightsOf is what whoami says the caller may do on stack of system.
function rightsOf(system, stack) {
  const w = page.who;
  const sys = w && Array.isArray(w.systems) ? w.systems.find((x) => x.name === system) : null;
  const s = sys && Array.isArray(sys.stacks) ? sys.stacks.find((x) => x.name === stack) : null;
  return { display: !!(s && s.display), control: !!(s && s.control) };
}

// ---- problems ------------------------------------------------------------

function hintOf(err) {
  const p = err.problem || {};
  switch (err.status) {
    case 0:
      return "The gateway did not answer; the dashboard keeps the last view and retries.";
    case 401:
      return "Authentication is required: enter a valid bearer token above.";
    case 403:
      if (p.profile) {
        return "Denied by the SERVAUTH profile " + p.profile + (p.resource ? " (resource " + p.resource + ")." : ".");
      }
      return p.resource ? "No profile permits " + p.resource + "." : "Your user ID may not do this.";
    case 503:
      return "The IKE daemon is not available; the dashboard keeps the last view and retries.";
    default:
      return "";
  }
}

// problemNodes shows an ApiError (or any error) with its context.
function problemNodes(err, context) {
  const p = (err && err.problem) || { title: String((err && err.message) || err) };
  const status = (err && err.status) || p.status;
  const rows = [];
  const add = (name, v) => {
    if (v !== undefined && v !== null && v !== "") {
      rows.push(el("dt", {}, name), el("dd", {}, String(v)));
    }
  };
  add("Detail", p.detail);
  add("Profile", p.profile);
  add("Resource", p.resource);
  add("NMI return code", p.nmiReturnCode);
  add("NMI reason code", p.nmiReasonCode);
  add("Retry after", err && err.retryAfter ? err.retryAfter + " s" : "");
  add("Problem type", p.type);
  add("Request ID", p.requestId);
  const hint = hintOf(err || {});
  return [
    el("p", {}, el("strong", {}, context + ": " + (status ? status + " " : "") + (p.title || "Error"))),
    hint ? el("p", {}, hint) : null,
    rows.length ? el("dl", {}, rows) : null,
  ];
}

function setError(source, err, context) {
  if (err) {
    page.errors.set(source, { err, context });
  } else {
    page.errors.delete(source);
  }
}

// renderErrors shows the page-wide problems; it leaves the region alone
// when nothing changed so that screen readers do not repeat it.
function renderErrors() {
  const box = $("error");
  const list = [...page.errors.values()];
  const sig = JSON.stringify(list.map((e) => [e.context, e.err.status, e.err.problem]));
  if (box.dataset.sig === sig) {
    return;
  }
  box.dataset.sig = sig;
  fill(box, list.map((e) => el("div", {}, problemNodes(e.err, e.context))));
  box.hidden = list.length === 0;
}

// sectionError shows a section's own problem the same way.
function sectionError(box, err, context) {
  const sig = err ? JSON.stringify([context, err.status, err.problem]) : "";
  if (box.dataset.sig === sig) {
    return;
  }
  box.dataset.sig = sig;
  fill(box, err ? problemNodes(err, context) : []);
  box.hidden = !err;
}

// ---- control actions -----------------------------------------------------

function reachedNote(answer) {
  if (answer.reached === undefined) {
    return null;
  }
  return el("p", { "data-reached": String(answer.reached) },
    answer.reached ? "The target state was reached." : "The target state was not reached in time.");
}

function showResults(label, answer) {
  const box = page.view && page.view.results;
  if (!box) {
    return;
  }
  if (answer && Array.isArray(answer.results)) {
    const rows = answer.results.map((r) => {
      const ok = r.status === "stateUpdated" || r.status === "stateAlreadySet";
      return el("tr", { "data-tunnel-id": r.tunnelId || "", "data-status": r.status || "" },
        el("td", {}, f.text(r.name)),
        el("td", {}, f.text(r.tunnelId)),
        el("td", { className: ok ? "status-ok" : "status-bad" }, f.text(r.status)));
    });
    fill(box, table("results-table", label + ": " + answer.results.length + " result(s)",
      ["Name", "Tunnel", "Status"], rows.length ? rows : [emptyRow(3, "No tunnels matched.")]), reachedNote(answer));
    return;
  }
  if (answer && answer.filterSet) {
    fill(box, el("p", { "data-status": "filterSet" },
      label + ": stack " + f.text(answer.stack) + " now uses the " + f.text(answer.filterSet) + " filter set."),
    reachedNote(answer));
    return;
  }
  fill(box, el("p", {}, label + ": done."));
}

// act asks for confirmation of action {title, verb, stack, targets, path,
// body, danger}, then sends it (with ?wait when chosen) and shows the
// answer. Cancel sends nothing.
async function act(button, action) {
  const chosen = await confirmAction(action);
  if (!chosen) {
    return;
  }
  button.disabled = true;
  const box = page.view && page.view.results;
  const label = action.title;
  if (box) {
    fill(box, el("p", {}, label + (chosen.wait ? " (waiting up to " + chosen.wait + ")" : "") + "…"));
  }
  // The result also shows beside the button, and stays there when the
  // list is shown again (see placeResult).
  const tr = button.closest("tr");
  const node = el("span", { className: "inline-result", role: "status", "data-result-for": action.place || "" }, "Working…");
  if (page.lastAction && page.lastAction.node !== node) {
    page.lastAction.node.remove();
  }
  page.lastAction = { place: action.place || "", list: action.list || "", node,
    row: tr && tr.parentNode ? [...tr.parentNode.children].indexOf(tr) : 0 };
  button.after(node);
  try {
    const answer = await api.post(api.stackURL(action.system, action.stack, action.path, { wait: chosen.wait }), action.body);
    showResults(label, answer);
    inlineResult(node, label, answer);
  } catch (err) {
    if (box) {
      fill(box, el("div", { className: "problem", role: "alert" }, problemNodes(err, label)));
    }
    const p = err.problem || {};
    node.className = "inline-result status-bad";
    node.dataset.status = "error";
    node.textContent = "Failed: " + [err.status || "", p.title || err.message || ""].join(" ").trim();
  } finally {
    button.disabled = false;
  }
  await refreshNow();
}

// inlineResult writes the answer to an action into node, briefly.
function inlineResult(node, label, answer) {
  let text = label + ": done.";
  let ok = true;
  if (answer && Array.isArray(answer.results)) {
    const counts = new Map();
    for (const r of answer.results) {
      counts.set(r.status, (counts.get(r.status) || 0) + 1);
      ok = ok && (r.status === "stateUpdated" || r.status === "stateAlreadySet");
    }
    text = answer.results.length === 1
      ? f.text(answer.results[0].tunnelId || answer.results[0].name) + ": " + f.text(answer.results[0].status)
      : [...counts].map(([k, n]) => n + " " + k).join(", ");
    if (!answer.results.length) {
      text = "No tunnels matched.";
      ok = false;
    }
    node.dataset.status = answer.results.length === 1 ? String(answer.results[0].status) : [...counts.keys()].join(" ");
  } else if (answer && answer.filterSet) {
    text = "Now using the " + f.text(answer.filterSet) + " filter set.";
    node.dataset.status = "filterSet";
  }
  if (answer && answer.reached === false) {
    text += " Target state not reached in time.";
    ok = false;
  }
  node.className = "inline-result " + (ok ? "status-ok" : "status-bad");
  node.textContent = text;
}

// placeResult puts the last action's result beside button b when b is
// the button of that action shown again.
function placeResult(b, place) {
  const last = page.lastAction;
  if (last && place && last.place === place) {
    queueMicrotask(() => {
      if (b.isConnected) {
        b.after(last.node);
      }
    });
  }
}

// actionButton is a button that asks to confirm action (see act); data
// is its data-action attribute, text its label. The action is on the
// shown stack's system.
function actionButton(data, text, action) {
  if (!action.system) {
    action.system = page.view ? page.view.system : page.system;
  }
  const name = action.title + (action.targets && action.targets.length === 1 ? " " + action.targets[0] : "");
  if (!action.place) {
    action.place = data + (action.list ? ":" + action.list : "") + (action.targets && action.targets.length === 1 ? ":" + action.targets[0] : "");
  }
  const b = el("button", {
    type: "button",
    className: action.danger ? "danger" : "",
    "data-action": data,
    // The accessible name starts with the visible text.
    "aria-label": name.startsWith(text) ? name : text + ": " + name,
    "aria-haspopup": "dialog",
    title: name,
  }, text);
  b.addEventListener("click", () => act(b, action));
  placeResult(b, action.place);
  return b;
}

// ---- lists ---------------------------------------------------------------

const td = (v, className) => el("td", className ? { className } : {}, f.text(v));
const tdNum = (v) => el("td", { className: "num" }, f.num(v));
const tdState = (s) => el("td", { className: "state state-" + String(s), "data-col": "state" }, f.text(s));

function emptyRow(span, message) {
  return el("tr", {}, el("td", { colSpan: span, className: "empty" }, message));
}

function tunnelPath(kind, id, verb) {
  return kind + "/" + encodeURIComponent(id) + ":" + verb;
}

// tunnelAction is a control action on one tunnel (by its ID) of list.
function tunnelAction(stack, list, kind, what, t, verb, danger) {
  const title = verb + " " + what;
  return actionButton(verb.toLowerCase(), verb, {
    title, verb, stack, list, targets: [t.tunnelId], path: tunnelPath(kind, t.tunnelId, verb.toLowerCase()), danger,
  });
}

// refreshable tells whether a tunnel (its newest generation) can be
// refreshed: only an active one; IKE answers notFound for one that is
// pending or whose only generation is expired.
const refreshable = (t) => t.state === "active";

// FILTER_PARAMS are the list query parameters of api/openapi.yaml the
// dashboard offers as filters. Several values, separated by spaces or
// commas, repeat the parameter.
const P = {
  tunnelId: { param: "tunnelId", label: "Tunnel ID", hint: "Y1 Y2" },
  ikeTunnelId: { param: "tunnelId", label: "Tunnel ID", hint: "K1 K2" },
  manualTunnelId: { param: "tunnelId", label: "Tunnel ID", hint: "M1 M2" },
  ruleTunnelId: { param: "tunnelId", label: "Tunnel ID", hint: "Y1 M1" },
  localAddress: { param: "localAddress", label: "Local address", hint: "192.0.2.0/24" },
  remoteAddress: { param: "remoteAddress", label: "Remote address", hint: "198.51.100.7" },
  protocol: { param: "protocol", label: "Protocol", hint: "tcp 17" },
  localPort: { param: "localPort", label: "Local port", hint: "443" },
  remotePort: { param: "remotePort", label: "Remote port", hint: "4500" },
};
const nameParam = (label, hint) => ({ param: "name", label, hint });

const stackColumns = {
  headers: ["Tunnel", "Generation", "State", "Dynamic VPN rule", "VPN action", "Local endpoint",
    "Remote endpoint", "IKE tunnel", "Bytes", "Expires"],
  cells: (t) => [td(t.tunnelId), tdNum(t.generation), tdState(t.state), td(t.localDynVpnRule), td(t.vpnAction),
    td(t.localSecurityEndpoint), td(t.remoteSecurityEndpoint), td(t.ikeTunnelId),
    el("td", { className: "num" }, f.traffic((t.stackView && t.stackView.traffic) || t.traffic)),
    td(f.time(t.expireTime))],
};

// ikeColumns show what the IKE view (view=ike, DynamicIkeView) adds.
const ikeColumns = {
  headers: ["Tunnel", "Generation", "State", "Dynamic VPN rule", "VPN action", "Local endpoint",
    "Remote endpoint", "IKE tunnel", "Initiated here", "Extended state", "Local client ID type",
    "Local client ID", "Remote client ID type", "Remote client ID", "Retransmits", "Expires"],
  cells: (t) => {
    const v = t.ikeView || {};
    const col = (name, value, className) => el("td", { "data-col": name, className }, value);
    return [td(t.tunnelId), tdNum(t.generation), tdState(t.state), td(t.localDynVpnRule), td(t.vpnAction),
      td(t.localSecurityEndpoint), td(t.remoteSecurityEndpoint), td(t.ikeTunnelId),
      col("locallyInitiated", f.yesNo(v.locallyInitiated)), col("extendedState", f.num(v.extendedState), "num"),
      col("localClientIdType", f.text(v.localClientIdType)), col("localClientId", f.text(v.localClientId)),
      col("remoteClientIdType", f.text(v.remoteClientIdType)), col("remoteClientId", f.text(v.remoteClientId)),
      col("retransmits", f.num(v.retransmits), "num"), td(f.time(t.expireTime))];
  },
};

// PHASE2 are the columns of an IKE tunnel's phase 2 tunnels (cascade=true:
// dynamic tunnels in the IKE view). Protocol and ports also carry their
// number (data-value).
const PHASE2 = {
  headers: ["Tunnel", "Generation", "State", "Dynamic VPN rule", "Local client ID", "Remote client ID", "Protocol",
    "Source", "Source port", "Destination", "Destination port", "Expires"],
  cells: (t) => {
    const v = t.ikeView || {};
    const col = (name, value, raw) => el("td", { "data-col": name, "data-value": raw }, value);
    return [td(t.tunnelId), tdNum(t.generation), tdState(t.state), td(t.localDynVpnRule),
      col("localClientId", f.text(v.localClientId)), col("remoteClientId", f.text(v.remoteClientId)),
      col("protocol", f.protocol(t.protocol), t.protocol), td(f.address(t.source)),
      col("sourcePort", f.port(t.sourcePort), t.sourcePort), td(f.address(t.destination)),
      col("destinationPort", f.port(t.destinationPort), t.destinationPort), td(f.time(t.expireTime))];
  },
};

// phase2Row is the row under IKE tunnel t that lists its phase 2 tunnels,
// when the list was read with cascade=true and the API gave t some (it
// gives them on the newest generation only).
function phase2Row(t, ls, span) {
  const list = ls.cascade && Array.isArray(t.dynamicTunnels) ? t.dynamicTunnels : [];
  if (list.length === 0) {
    return null;
  }
  const rows = list.map((d) => el("tr", { "data-phase2-id": d.tunnelId, "data-generation": d.generation },
    PHASE2.cells(d)));
  return el("tr", { className: "phase2", "data-phase2-of": t.tunnelId },
    el("td", { colSpan: span },
      el("table", {},
        el("caption", {}, "Phase 2 tunnels of IKE tunnel " + f.text(t.tunnelId) + ": " + list.length),
        el("thead", {}, el("tr", {}, PHASE2.headers.map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows))));
}

// bulk is the bulk form of a control action on the tunnels of list
// shown (those can of them, when given: a filter of the newest
// generations).
function bulk(list, kind, what, verb, danger, can) {
  return (shown, stack) => {
    const ids = shown.filter((t) => !can || can(t)).map((t) => t.tunnelId);
    if (!ids.length) {
      return null;
    }
    return actionButton("bulk-" + verb.toLowerCase(), verb + " all " + (can ? "active " : "") + "shown", {
      title: verb + " " + ids.length + " " + what, verb, stack, list, targets: ids, place: "bulk-" + verb.toLowerCase() + ":" + list,
      path: kind + ":" + verb.toLowerCase(), body: { tunnelIds: ids }, danger,
    });
  };
}

const LISTS = [
  {
    key: "ike",
    title: "IKE tunnels",
    path: "ike/tunnels",
    pageSize: 50,
    filters: [nameParam("Key exchange rule", "KER1"), P.ikeTunnelId, P.localAddress, P.remoteAddress],
    headers: ["Tunnel", "Generation", "State", "Key exchange rule", "Local endpoint", "Remote endpoint",
      "Role", "IKE version", "NAT traversal", "Bytes", "Activated", "Expires"],
    cells: (t) => [td(t.tunnelId), tdNum(t.generation), tdState(t.state), td(t.keyExchangeRule),
      td(t.localEndpoint), td(t.remoteEndpoint), td(t.role), td(t.ikeVersion),
      td(f.yesNo(t.natTraversalEnabled)), tdNum(t.bytes), td(f.time(t.activateTime)), td(f.time(t.expireTime))],
    cascade: true,
    nested: phase2Row,
    toolbar: (v, ls) => cascadeToggle(ls),
    actions: (t, stack) => [
      refreshable(t) ? tunnelAction(stack, "ike", "ike/tunnels", "IKE tunnel", t, "Refresh") : null,
      tunnelAction(stack, "ike", "ike/tunnels", "IKE tunnel", t, "Deactivate", true),
    ],
    bulk: [bulk("ike", "ike/tunnels", "IKE tunnel(s)", "Refresh", false, refreshable),
      bulk("ike", "ike/tunnels", "IKE tunnel(s)", "Deactivate", true)],
  },
  {
    key: "dynamic",
    title: "Dynamic tunnels",
    path: "tunnels/dynamic",
    pageSize: 50,
    filters: [nameParam("Dynamic VPN rule", "RULE1"), P.tunnelId, P.localAddress, P.remoteAddress, P.protocol,
      P.localPort, P.remotePort],
    views: { stack: stackColumns, ike: ikeColumns },
    actions: (t, stack) => [
      refreshable(t) ? tunnelAction(stack, "dynamic", "tunnels/dynamic", "dynamic tunnel", t, "Refresh") : null,
      tunnelAction(stack, "dynamic", "tunnels/dynamic", "dynamic tunnel", t, "Deactivate", true),
      t.localDynVpnRule && (t.state === "expired" || t.state === "inactive")
        ? actionButton("activate", "Activate rule", {
          title: "Activate dynamic VPN rule", verb: "Activate", stack, list: "dynamic", targets: [t.localDynVpnRule],
          path: "tunnels/dynamic:activate", body: { names: [t.localDynVpnRule] },
        })
        : null,
    ],
    bulk: [bulk("dynamic", "tunnels/dynamic", "dynamic tunnel(s)", "Refresh", false, refreshable),
      bulk("dynamic", "tunnels/dynamic", "dynamic tunnel(s)", "Deactivate", true)],
    seen: (t) => t.localDynVpnRule && page.rules.add(t.localDynVpnRule),
    toolbar: (v, ls) => [viewSelect(v, ls), (v.activateSlot = el("div"))],
  },
  {
    key: "manual",
    title: "Manual tunnels",
    path: "tunnels/manual",
    pageSize: 50,
    filters: [nameParam("VPN action", "ACTION1"), P.manualTunnelId, P.localAddress, P.remoteAddress],
    headers: ["Tunnel", "State", "VPN action", "Local endpoint", "Remote endpoint", "Encryption", "Bytes",
      "Activated"],
    cells: (t) => [td(t.tunnelId), tdState(t.state), td(t.vpnAction), td(t.localSecurityEndpoint),
      td(t.remoteSecurityEndpoint),
      td(t.security ? f.text(t.security.encryptionAlgorithm) + " " + f.text(t.security.encryptionKeyLength) : ""),
      el("td", { className: "num" }, f.traffic(t.traffic)), td(f.time(t.activateTime))],
    actions: (t, stack) => [
      t.state === "inactive" || t.state === "expired"
        ? tunnelAction(stack, "manual", "tunnels/manual", "manual tunnel", t, "Activate")
        : tunnelAction(stack, "manual", "tunnels/manual", "manual tunnel", t, "Deactivate", true),
    ],
    bulk: [bulk("manual", "tunnels/manual", "manual tunnel(s)", "Activate"),
      bulk("manual", "tunnels/manual", "manual tunnel(s)", "Deactivate", true)],
  },
  {
    key: "ports",
    title: "Port translations",
    path: "port-translations",
    pageSize: 50,
    filters: [P.tunnelId, P.remoteAddress, P.protocol, P.localPort, P.remotePort],
    headers: ["Tunnel", "Protocol", "Remote endpoint", "Remote UDP port", "Remote original address",
      "Remote original port", "Translated port", "Local port"],
    cells: (p) => [td(p.tunnelId), td(f.protocol(p.protocol)), td(p.remoteSecurityEndpoint), td(p.remoteUdpPort),
      td(p.remoteOriginalAddress), td(p.remoteOriginalPort), td(p.translatedPort), td(p.localPort)],
  },
  {
    key: "interfaces",
    title: "Interfaces",
    path: "interfaces",
    pageSize: 50,
    filters: [],
    headers: ["Name", "Address", "Security class", "IPv6", "Active", "Dynamic VIPA"],
    cells: (i) => [td(i.name), td(i.address), tdNum(i.securityClass), td(f.yesNo(i.ipv6)), td(f.yesNo(i.active)),
      td(f.yesNo(i.dvipa))],
  },
  {
    key: "filters",
    title: "Filter rules",
    path: "filters",
    pageSize: 25,
    filters: [nameParam("Rule name", "RULE1"), P.ruleTunnelId, P.localAddress, P.remoteAddress, P.protocol,
      P.localPort, P.remotePort],
    headers: ["Name", "Extension", "Group", "Type", "State", "Action", "Direction", "Scope", "Protocol",
      "Source", "Source ports", "Destination", "Destination ports", "Logging", "Matches"],
    cells: (r) => [td(r.name), td(r.nameExtension), td(r.groupName), td(r.type), tdState(r.state), td(r.action),
      td(r.direction), td(r.scope), td(f.protocol(r.protocol)), td(f.address(r.source)), td(f.ports(r.sourcePorts)),
      td(f.address(r.destination)), td(f.ports(r.destinationPorts)), td(r.logging), tdNum(r.matchCount)],
    toolbar: (v, ls) => filterSetSelect(v, ls),
  },
];

const FILTER_RULES = LISTS.find((def) => def.key === "filters");

// columns are a list's headers and cells in its current view.
function columns(def, ls) {
  return def.views ? def.views[ls.view] || def.views.stack : def;
}

// listQuery is the query of a list's request, without paging.
function listQuery(def, ls) {
  const q = {};
  if (def.key === "filters") {
    q.set = ls.set;
  }
  if (def.views && ls.view !== "stack") {
    q.view = ls.view;
  }
  if (def.cascade && ls.cascade) {
    q.cascade = "true";
  }
  for (const p of def.filters || []) {
    q[p.param] = splitValues(ls.filter[p.param]);
  }
  return q;
}

function splitValues(s) {
  return String(s || "").split(/[\s,]+/).filter(Boolean);
}

// listChanged resets paging after a change of filters, view or page size,
// keeps the change in the hash and refreshes.
function listChanged(ls) {
  resetPaging(ls);
  ls.data = null;
  writeHash();
  refreshNow();
}

function viewSelect(v, ls) {
  const sel = el("select", { id: "dynamic-view" },
    [["stack", "as the stack knows them (traffic)"], ["ike", "as IKE knows them (negotiation, client IDs)"]]
      .map(([value, label]) => el("option", { value, selected: value === ls.view }, label)));
  sel.addEventListener("change", () => {
    ls.view = sel.value;
    listChanged(ls);
  });
  return el("div", { className: "toolbar" }, el("label", { for: "dynamic-view" }, "Show dynamic tunnels"), sel);
}

// cascadeToggle shows or hides each IKE tunnel's phase 2 tunnels (the
// list read with cascade=true).
function cascadeToggle(ls) {
  const box = el("input", { type: "checkbox", id: "ike-cascade", checked: ls.cascade });
  box.addEventListener("change", () => {
    ls.cascade = box.checked;
    listChanged(ls);
  });
  return el("div", { className: "toolbar" }, box, el("label", { for: "ike-cascade" }, "Show phase 2 tunnels"));
}

// filterForm has an input per query parameter of the list; Apply sends
// them as the list's query (the API checks them: a bad value shows its
// 400 problem), Clear removes them.
function filterForm(def, ls) {
  const inputs = def.filters.map((p) => el("input", {
    type: "text", id: "filter-" + def.key + "-" + p.param, name: p.param, value: ls.filter[p.param] || "",
    placeholder: p.hint, autocomplete: "off", size: 14,
  }));
  const fields = def.filters.map((p, i) => el("span", { className: "field" },
    el("label", { for: inputs[i].id }, p.label), inputs[i]));
  const apply = el("button", { type: "submit", "data-filter": "apply" }, "Apply");
  const clear = el("button", { type: "button", "data-filter": "clear" }, "Clear");
  const form = el("form", { className: "filters", id: "filters-" + def.key, role: "search", "aria-label": def.title + " filters" },
    el("fieldset", {}, el("legend", {}, "Filter " + def.title.toLowerCase() + " (several values: separate with spaces)"),
      fields, apply, clear));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ls.filter = {};
    def.filters.forEach((p, i) => {
      const value = inputs[i].value.trim();
      if (value) {
        ls.filter[p.param] = value;
      }
    });
    listChanged(ls);
  });
  clear.addEventListener("click", () => {
    for (const input of inputs) {
      input.value = "";
    }
    ls.filter = {};
    listChanged(ls);
  });
  return form;
}

function activateForm(v) {
  const input = el("input", { type: "text", id: "activate-names", name: "names", autocomplete: "off" });
  input.setAttribute("list", "rule-names");
  input.setAttribute("placeholder", "RULE1 RULE2");
  const list = el("datalist", { id: "rule-names" });
  const button = el("button", { type: "submit", "data-action": "activate-rules" }, "Activate");
  const form = el("form", { className: "toolbar" },
    el("label", { for: "activate-names" }, "Activate dynamic VPN rules"), input, list, button);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const names = input.value.split(/[\s,]+/).filter(Boolean);
    if (names.length === 0) {
      input.focus();
      return;
    }
    act(button, {
      title: "Activate dynamic VPN rule" + (names.length > 1 ? "s" : ""), verb: "Activate", stack: v.name, place: "activate-rules",
      targets: names, path: "tunnels/dynamic:activate", body: { names },
    });
  });
  v.ruleList = list;
  return form;
}

function fillRuleList(v) {
  if (v.ruleList) {
    fill(v.ruleList, [...page.rules].sort().map((n) => el("option", { value: n })));
  }
}

// renderActivateForm shows the form to activate dynamic VPN rules to
// callers with CONTROL only.
function renderActivateForm(v, control) {
  if (!v.activateSlot || v.activateControl === control) {
    return;
  }
  v.activateControl = control;
  v.ruleList = null;
  fill(v.activateSlot, control ? activateForm(v) : null);
  fillRuleList(v);
}

function filterSetSelect(v, ls) {
  const sel = el("select", { id: "filter-set" },
    ["current", "default", "policy"].map((s) => el("option", { value: s, selected: s === ls.set }, s)));
  sel.addEventListener("change", () => {
    ls.set = sel.value;
    listChanged(ls);
  });
  return el("div", { className: "toolbar" }, el("label", { for: "filter-set" }, "Filter set shown"), sel);
}

function resetPaging(ls) {
  ls.token = "";
  ls.prev = [];
}

function pager(v, def, ls) {
  const size = el("select", { id: "pagesize-" + def.key },
    PAGE_SIZES.map((n) => el("option", { value: String(n), selected: n === ls.pageSize }, String(n))));
  size.addEventListener("change", () => {
    ls.pageSize = Number(size.value);
    listChanged(ls);
  });
  const prev = el("button", { type: "button", "data-page": "prev", "aria-label": def.title + ": previous page" }, "Previous");
  const next = el("button", { type: "button", "data-page": "next", "aria-label": def.title + ": next page" }, "Next");
  const where = el("span", { "aria-live": "polite" });
  prev.addEventListener("click", () => {
    ls.token = ls.prev.pop() || "";
    refreshNow();
  });
  next.addEventListener("click", () => {
    if (ls.next) {
      ls.prev.push(ls.token);
      ls.token = ls.next;
      refreshNow();
    }
  });
  ls.pagerParts = { prev, next, where };
  return el("div", { className: "pager" },
    el("label", { for: "pagesize-" + def.key }, "Rows per page"), size, prev, next, where);
}

function renderList(v, def, ls, data, control) {
  if (ls.data === data && ls.control === control) {
    return;
  }
  ls.data = data;
  ls.control = control;
  const items = Array.isArray(data.items) ? data.items : [];
  // Actions go on the newest generation of each tunnel; the NMI acts on
  // the tunnel ID.
  const newest = new Map();
  for (const it of items) {
    const g = typeof it.generation === "number" ? it.generation : 0;
    if (!newest.has(it.tunnelId) || newest.get(it.tunnelId) < g) {
      newest.set(it.tunnelId, g);
    }
  }
  const withActions = control && typeof def.actions === "function";
  const cols = columns(def, ls);
  const headers = withActions ? [...cols.headers, "Actions"] : cols.headers;
  const rows = items.map((it) => {
    if (def.seen) {
      def.seen(it);
    }
    const attrs = {};
    if (it.tunnelId !== undefined) {
      attrs["data-tunnel-id"] = it.tunnelId;
    }
    if (it.generation !== undefined) {
      attrs["data-generation"] = it.generation;
    }
    if (it.name !== undefined) {
      attrs["data-name"] = it.name;
    }
    const cells = cols.cells(it);
    if (withActions) {
      const g = typeof it.generation === "number" ? it.generation : 0;
      cells.push(el("td", { className: "actions" }, newest.get(it.tunnelId) === g ? def.actions(it, v.name) : null));
    }
    return [el("tr", attrs, cells), def.nested ? def.nested(it, ls, headers.length) : null];
  });
  const filtered = Object.keys(ls.filter).length > 0;
  const caption = def.title + " of " + v.name + (ls.view === "ike" ? " as IKE knows them" : "") +
    (def.cascade && ls.cascade ? " with their phase 2 tunnels" : "") +
    (filtered ? " matching the filter" : "") + (items.length ? "" : ": none");
  const shown = items.filter((it) => it.tunnelId !== undefined &&
    newest.get(it.tunnelId) === (typeof it.generation === "number" ? it.generation : 0));
  const bulkBar = control && def.bulk && shown.length
    ? el("div", { className: "toolbar", "data-bulk": def.key },
      el("span", {}, shown.length + " tunnel(s) shown:"), def.bulk.map((b) => b(shown, v.name)))
    : null;
  fill(ls.content, table("list-" + def.key, caption, headers,
    rows.length ? rows : [emptyRow(headers.length, "None.")]), bulkBar);
  goneRow(def, ls, headers.length);
  ls.next = data.nextPageToken || "";
  const { prev, next, where } = ls.pagerParts;
  prev.disabled = ls.prev.length === 0;
  next.disabled = !ls.next;
  where.textContent = "Page " + (ls.prev.length + 1) + (ls.next ? " (more follow)" : "") + ", " +
    items.length + " row(s)";
  if (def.key === "dynamic") {
    fillRuleList(v);
  }
}

// goneRow keeps the last action's result where it was clicked when the
// list no longer shows its button (a deactivated tunnel is gone): in a
// row at the clicked row's place.
function goneRow(def, ls, span) {
  const last = page.lastAction;
  if (!last || last.list !== def.key) {
    return;
  }
  queueMicrotask(() => {
    const body = ls.content.querySelector("tbody");
    if (!body || last.node.isConnected && ls.content.contains(last.node)) {
      return;
    }
    const target = last.place.split(":").slice(2).join(":");
    const row = el("tr", { className: "gone", "data-gone": target },
      el("td", { colSpan: span }, target ? "Tunnel " + target + " is no longer listed. " : "", last.node));
    body.insertBefore(row, body.children[Math.min(last.row, body.children.length)] || null);
  });
}

async function refreshList(v, def) {
  const ls = v.lists[def.key];
  // Reads overlap (rounds and events): show none older than one shown.
  const ticket = ++ls.asked;
  const control = rightsOf(v.system, v.name).control;
  const url = () => api.stackURL(v.system, v.name, def.path,
    { ...listQuery(def, ls), pageSize: ls.pageSize, pageToken: ls.token });
  try {
    let answer;
    try {
      answer = await api.get(url());
    } catch (err) {
      // A page token outlives the list it came from: start again.
      if (err.status !== 400 || !ls.token) {
        throw err;
      }
      resetPaging(ls);
      answer = await api.get(url());
    }
    if (page.view !== v || ticket < ls.shown) {
      return;
    }
    ls.shown = ticket;
    renderList(v, def, ls, answer.data, control);
    ls.content.classList.remove("stale");
    sectionError(ls.error, null);
  } catch (err) {
    if (page.view !== v || ticket < ls.shown) {
      return;
    }
    ls.shown = ticket;
    ls.content.classList.add("stale");
    sectionError(ls.error, err, "Loading " + def.title.toLowerCase());
  }
}

// ---- summary -------------------------------------------------------------

const COUNTERS = [
  ["active", "Active"],
  ["inProgress", "In progress"],
  ["expired", "Expired"],
  ["localActivationSuccesses", "Local activations"],
  ["remoteActivationSuccesses", "Remote activations"],
  ["localActivationFailures", "Local activation failures"],
  ["remoteActivationFailures", "Remote activation failures"],
  ["retransmits", "Retransmits"],
];

function renderSummary(v, data) {
  if (v.summaryData === data) {
    return;
  }
  v.summaryData = data;
  const rows = COUNTERS.map(([k, label]) => el("tr", { "data-counter": k },
    el("th", { scope: "row" }, label),
    el("td", { className: "num" }, f.num(data.ikeTunnels && data.ikeTunnels[k])),
    el("td", { className: "num" }, f.num(data.dynamicTunnels && data.dynamicTunnels[k]))));
  fill(v.summary, table("summary-table", "Tunnel counters of " + v.name, ["Counter", "IKE tunnels", "Dynamic tunnels"], rows));
}

async function refreshSummary(v) {
  const ticket = ++v.summaryAsked;
  try {
    const { data } = await api.get(api.stackURL(v.system, v.name, "summary"));
    if (page.view !== v || ticket < v.summaryShown) {
      return;
    }
    v.summaryShown = ticket;
    renderSummary(v, data);
    v.summary.classList.remove("stale");
    sectionError(v.summaryError, null);
  } catch (err) {
    if (page.view !== v || ticket < v.summaryShown) {
      return;
    }
    v.summaryShown = ticket;
    v.summary.classList.add("stale");
    sectionError(v.summaryError, err, "Loading the summary");
  }
}

// ---- the selected stack --------------------------------------------------

function section(id, title, ...children) {
  return el("section", { "aria-labelledby": id + "-title", id: "section-" + id },
    el("h3", { id: id + "-title", tabIndex: -1 }, title), children);
}

// openList shows list filtered to tunnel IDs ids (all when none; the
// current set for the filter rules), and moves the focus to it.
function openList(v, list, ids) {
  const ls = v.lists[list];
  const def = LISTS.find((d) => d.key === list);
  if (!ls || !def) {
    return;
  }
  ls.filter = ids.length ? { tunnelId: ids.join(" ") } : {};
  if (list === "filters") {
    ls.set = "current";
    const sel = document.getElementById("filter-set");
    if (sel) {
      sel.value = "current";
    }
  }
  for (const p of def.filters || []) {
    const input = document.getElementById("filter-" + list + "-" + p.param);
    if (input) {
      input.value = ls.filter[p.param] || "";
    }
  }
  listChanged(ls);
  const h = document.getElementById(list + "-title");
  if (h) {
    h.scrollIntoView({ block: "start" });
    h.focus();
  }
}

// buildStackView shows stack name of system; saved holds each list's
// filters, view and page size from the hash.
function buildStackView(system, name, saved) {
  const v = { system, name, lists: {}, summaryData: null, summaryAsked: 0, summaryShown: 0 };
  v.results = el("div", { id: "results", className: "results", role: "status", "aria-live": "polite" });
  v.filterSet = el("div", { className: "toolbar", id: "filter-set-control" });
  v.summary = el("div");
  v.summaryError = el("div", { className: "problem", hidden: true });
  v.health = createHealth(system, name, {
    sampleMs: settings.sampleMs,
    idleMs: settings.idleMs,
    isOn: () => $("auto-refresh").checked && page.view === v,
    filterSet: () => {
      const items = page.stacks && Array.isArray(page.stacks.items) ? page.stacks.items : [];
      const s = items.find((x) => x.name === name);
      return s ? s.filterSet : "";
    },
    hrefOf: (list, ids) => {
      const q = new URLSearchParams(hashSystem(system) ? { system, stack: name } : { stack: name });
      if (ids.length) {
        q.set(list + ".tunnelId", ids.join(" "));
      }
      return "#" + q.toString();
    },
    open: (list, ids) => openList(v, list, ids),
  });
  const parts = [
    el("h2", { id: "stack-title" }, "Stack " + name + (severalSystems() ? " on " + system : "")),
    v.filterSet,
    v.results,
    v.health.node,
    section("summary", "Summary", v.summaryError, v.summary),
  ];
  for (const def of LISTS) {
    const ls = { pageSize: def.pageSize, token: "", prev: [], next: "", set: "current", view: "stack", cascade: false, filter: {},
      data: null, control: null, asked: 0, shown: 0, ...savedList(def, saved[def.key] || {}) };
    ls.error = el("div", { className: "problem", hidden: true });
    ls.content = el("div");
    v.lists[def.key] = ls;
    parts.push(section(def.key, def.title, def.toolbar ? def.toolbar(v, ls) : null,
      def.filters.length ? filterForm(def, ls) : null,
      ls.error, ls.content, pager(v, def, ls)));
  }
  parts.push(section("filter-test", "Packet test", packetTester(v)));
  fill($("stack"), el("section", { "aria-labelledby": "stack-title", "data-system": system, "data-stack": name }, parts));
  return v;
}

// ---- packet test ---------------------------------------------------------

// PACKET_FIELDS are the inputs of the packet tester, as FilterTestRequest
// names them; numbers go as numbers, anything else as typed (the API
// answers 400 to what it refuses).
const PACKET_FIELDS = [
  { name: "source", label: "Source address", hint: "192.0.2.10" },
  { name: "destination", label: "Destination address", hint: "10.1.0.5" },
  { name: "protocol", label: "Protocol", hint: "tcp, udp, icmp, 50" },
  { name: "sourcePort", label: "Source port", hint: "40000", number: true },
  { name: "destinationPort", label: "Destination port", hint: "443", number: true },
  { name: "icmpType", label: "ICMP type", hint: "8", number: true },
  { name: "icmpCode", label: "ICMP code", hint: "0", number: true },
  { name: "ospfType", label: "OSPF type", hint: "1", number: true },
  { name: "securityClass", label: "Security class", hint: "0", number: true },
];

// packetTester is a form for POST filters:test: which rule of the current
// filter set a packet matches. It needs DISPLAY only.
function packetTester(v) {
  const id = (n) => "packet-" + n;
  const direction = el("select", { id: id("direction"), name: "direction" },
    ["inbound", "outbound"].map((d) => el("option", { value: d }, d)));
  const inputs = PACKET_FIELDS.map((p) => el("input", {
    type: "text", id: id(p.name), name: p.name, placeholder: p.hint, autocomplete: "off", size: p.number ? 6 : 16,
  }));
  const checks = [["routed", "Forwarded (routed)"], ["connectionInitiating", "Connection-initiating (SYN)"]].map(
    ([name, label]) => [name, label, el("input", { type: "checkbox", id: id(name), name })]);
  const result = el("div", { id: "packet-result", className: "results", role: "status", "aria-live": "polite" });
  const submit = el("button", { type: "submit", "data-filter-test": "" }, "Test");
  const form = el("form", { className: "filters", id: "packet-form", "aria-label": "Packet test" },
    el("fieldset", {},
      el("legend", {}, "A packet to test against the current filter set; the first rule that matches decides"),
      el("span", { className: "field" }, el("label", { for: direction.id }, "Direction"), direction),
      PACKET_FIELDS.map((p, i) => el("span", { className: "field" }, el("label", { for: inputs[i].id }, p.label), inputs[i])),
      checks.map(([, label, box]) => el("span", { className: "field" }, box, el("label", { for: box.id }, label))),
      submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { direction: direction.value };
    PACKET_FIELDS.forEach((p, i) => {
      const value = inputs[i].value.trim();
      if (value) {
        body[p.name] = (p.number || p.name === "protocol") && /^[0-9]+$/.test(value) ? Number(value)
          : p.name === "protocol" ? value.toLowerCase() : value;
      }
    });
    for (const [name, , box] of checks) {
      if (box.checked) {
        body[name] = true;
      }
    }
    submit.disabled = true;
    fill(result, el("p", {}, "Testing…"));
    try {
      const answer = await api.post(api.stackURL(v.system, v.name, "filters:test"), body);
      if (page.view === v) {
        showPacketResult(result, answer);
      }
    } catch (err) {
      if (page.view === v) {
        fill(result, el("div", { className: "problem", role: "alert" }, problemNodes(err, "Testing the packet")));
      }
    } finally {
      submit.disabled = false;
    }
  });
  return [form, result];
}

function showPacketResult(box, answer) {
  const r = answer.rule;
  const p = answer.packet || {};
  const ports = p.sourcePort !== undefined || p.destinationPort !== undefined
    ? " ports " + f.text(p.sourcePort) + " → " + f.text(p.destinationPort) : "";
  const icmp = p.icmpType !== undefined ? " ICMP type " + p.icmpType + " code " + f.text(p.icmpCode) : "";
  fill(box,
    el("p", {
      "data-matched": String(!!answer.matched),
      "data-action": String(answer.action || ""),
      "data-position": answer.position === undefined ? "" : String(answer.position),
      "data-rule": r ? [r.name, r.nameExtension, r.direction].map((x) => (x === undefined ? "" : String(x))).join(" ") : "",
    }, answer.matched
      ? el("strong", {}, "Rule " + f.text(r && r.name) + " at position " + f.text(answer.position) + " matches: " +
        f.text(answer.action) + ".")
      : el("strong", {}, "No rule matches: " + f.text(answer.action) + " (IP filtering denies what no rule permits).")),
    el("p", {}, "Tested: " + f.text(p.direction) + (p.routed ? ", routed" : "") + ", " + f.text(p.source) + " → " +
      f.text(p.destination) + ", " + f.protocol(p.protocol) + ports + icmp + "."),
    r ? table("packet-rule", "The matching rule", FILTER_RULES.headers, [el("tr", { "data-name": r.name }, FILTER_RULES.cells(r))])
      : null);
}

function renderFilterSetControl(v, stack, control) {
  const sig = JSON.stringify([stack && stack.filterSet, control]);
  if (v.filterSetSig === sig) {
    return;
  }
  v.filterSetSig = sig;
  const parts = [el("span", {}, "Filter set in effect: ", el("strong", { "data-filter-set": "" }, f.text(stack && stack.filterSet)))];
  if (control) {
    parts.push(
      actionButton("load-default", "Load default filter set", {
        title: "Load the default filter set", verb: "Load", stack: v.name, targets: [], path: "filters:loadDefault",
        danger: true,
      }),
      actionButton("load-policy", "Load policy filter set", {
        title: "Load the policy filter set", verb: "Load", stack: v.name, targets: [], path: "filters:loadPolicy",
        danger: true,
      }));
  }
  fill(v.filterSet, parts);
}

// selectStack shows stack name of the selected system, with the lists'
// state from the hash when the hash names that stack; force rebuilds the
// view of the same stack.
function selectStack(name, force) {
  if (page.stack === name && page.view && page.view.system === page.system && !force) {
    return;
  }
  page.stack = name;
  page.rules.clear();
  page.lastAction = null;
  if (page.view && page.view.health) {
    page.view.health.destroy();
  }
  const h = readHash();
  const same = h.stack === name && (h.system || defaultSystem()) === page.system;
  page.view = name && page.system ? buildStackView(page.system, name, same ? h.lists : {}) : null;
  if (!page.view) {
    fill($("stack"));
  }
  writeHash();
  markSelected();
}

// selectSystem shows the stacks of system name once they are read (the
// stack of the hash when the hash names that system, else the first). It
// leaves the hash alone: the hash a page was opened with still names the
// stack to show.
function selectSystem(name) {
  if (page.system === name) {
    return;
  }
  page.system = name;
  page.stacks = null;
  page.stack = "";
  page.rules.clear();
  page.lastAction = null;
  if (page.view && page.view.health) {
    page.view.health.destroy();
  }
  page.view = null;
  fill($("stack"));
  fill($("stacks").tBodies[0]);
  renderSystems();
}

// chooseSystem is the caller's choice of system name (the selector, or
// the overview): shown, and kept in the hash.
function chooseSystem(name) {
  selectSystem(name);
  writeHash();
  refreshNow();
}

// The hash is "#system=SYS&stack=NAME" (system= left out when the gateway
// reaches one system; without it, the default system) and, per list,
// "KEY.PARAM=VALUE" for its filters and "KEY.set", "KEY.view",
// "KEY.cascade", "KEY.pageSize" when not the default (e.g.
// #system=SYSB&stack=TCPIP&dynamic.view=ike&dynamic.tunnelId=Y1+Y2 or
// #stack=TCPIP&ike.cascade=true).
function readHash() {
  const q = new URLSearchParams(location.hash.slice(1));
  const lists = {};
  for (const [k, value] of q) {
    const dot = k.indexOf(".");
    if (dot > 0) {
      const key = k.slice(0, dot);
      (lists[key] = lists[key] || {})[k.slice(dot + 1)] = value;
    }
  }
  return { system: (q.get("system") || "").toUpperCase(), stack: q.get("stack") || "", lists };
}

// savedList is a list's state from the hash's values, where they are
// among those the page offers.
function savedList(def, h) {
  const out = { filter: {} };
  if (def.key === "filters" && ["current", "default", "policy"].includes(h.set)) {
    out.set = h.set;
  }
  if (def.views && Object.hasOwn(def.views, h.view || "")) {
    out.view = h.view;
  }
  if (def.cascade && h.cascade === "true") {
    out.cascade = true;
  }
  if (PAGE_SIZES.includes(Number(h.pageSize))) {
    out.pageSize = Number(h.pageSize);
  }
  for (const p of def.filters || []) {
    if (h[p.param] && h[p.param].trim()) {
      out.filter[p.param] = h[p.param].trim();
    }
  }
  return out;
}

function writeHash() {
  const v = page.view;
  const q = new URLSearchParams();
  if (hashSystem(page.system)) {
    q.set("system", page.system);
  }
  if (v) {
    q.set("stack", v.name);
    for (const def of LISTS) {
      const ls = v.lists[def.key];
      if (def.key === "filters" && ls.set !== "current") {
        q.set(def.key + ".set", ls.set);
      }
      if (def.views && ls.view !== "stack") {
        q.set(def.key + ".view", ls.view);
      }
      if (def.cascade && ls.cascade) {
        q.set(def.key + ".cascade", "true");
      }
      if (ls.pageSize !== def.pageSize) {
        q.set(def.key + ".pageSize", String(ls.pageSize));
      }
      for (const [k, value] of Object.entries(ls.filter)) {
        q.set(def.key + "." + k, value);
      }
    }
  }
  const qs = q.toString();
  const hash = qs ? "#" + qs : "";
  page.hash = hash;
  if (location.hash !== hash) {
    history.replaceState(null, "", hash || location.pathname + location.search);
  }
}

// ---- systems, stacks and identity ----------------------------------------

function systemItems() {
  return page.systems && Array.isArray(page.systems.items) ? page.systems.items : [];
}

function severalSystems() {
  return systemItems().length > 1;
}

// defaultSystem is the system /v1/stacks means ("" until known).
function defaultSystem() {
  const items = systemItems();
  const d = items.find((s) => s.default);
  return d ? d.name : "";
}

// hashSystem tells whether the hash names system: always, unless the
// gateway is known to reach that one system alone.
function hashSystem(system) {
  const items = systemItems();
  return !!system && !(items.length === 1 && items[0].name === system);
}

// systemLabel is how the selector names a system.
function systemLabel(s) {
  const notes = [s.kind === "nss" ? "behind an NSS server" : "IKE daemon"];
  if (s.default) {
    notes.unshift("default");
  }
  if (!s.reachable) {
    notes.push("unreachable");
  }
  return s.name + " (" + notes.join(", ") + ")";
}

// renderSystems shows the system selector (with several systems only)
// and the stacks' heading.
function renderSystems() {
  const items = systemItems();
  const several = items.length > 1;
  const sel = $("system");
  const sig = JSON.stringify([items.map(systemLabel), page.system]);
  if (sel.dataset.sig !== sig) {
    sel.dataset.sig = sig;
    fill(sel, items.map((s) => el("option", { value: s.name, selected: s.name === page.system }, systemLabel(s))));
    sel.value = page.system;
  }
  $("system-choice").hidden = !several;
  const title = several && page.system ? "Stacks of " + page.system : "Stacks";
  if ($("stacks-title").textContent !== title) {
    $("stacks-title").textContent = title;
    $("stacks").querySelector("caption").textContent = "TCP/IP stacks" + (several ? " of system " + page.system : "") +
      ", the filter set in effect and their flags; choose a stack to show its details";
  }
  fleet.show(several ? items : null, page.system);
}

// refreshSystems reads the systems and chooses the shown one: the one
// chosen before, else the hash's, else the default.
async function refreshSystems() {
  try {
    const { data } = await api.get("v1/systems");
    page.systems = data;
    setError("systems", null);
  } catch (err) {
    // The stacks' own error says the same for 401 and 503.
    setError("systems", err.status === 401 || err.status === 503 || err.status === 0 ? null : err, "Loading the systems");
    if (err.status === 401 || err.status === 403) {
      page.systems = null;
    }
  }
  const names = systemItems().map((s) => s.name);
  if (names.length && !names.includes(page.system)) {
    const wanted = readHash().system;
    selectSystem(names.includes(wanted) ? wanted : defaultSystem() || names[0]);
  }
  renderSystems();
}

function markSelected() {
  for (const tr of $("stacks").tBodies[0].rows) {
    const on = tr.dataset.stack === page.stack;
    tr.classList.toggle("selected", on);
    const b = tr.querySelector("button");
    if (b) {
      b.setAttribute("aria-pressed", on ? "true" : "false");
    }
  }
}

function renderStacks(data) {
  const items = data && Array.isArray(data.items) ? data.items : [];
  const rows = items.map((s) => {
    const r = rightsOf(page.system, s.name);
    const access = r.control ? "display, control" : r.display ? "display" : "—";
    const show = el("button", { type: "button", "aria-pressed": "false", title: "Show stack " + s.name }, f.text(s.name));
    show.addEventListener("click", () => {
      selectStack(s.name);
      refreshNow();
    });
    const nss = s.nss ? (s.nss.configured ? (s.nss.connected ? "connected" : "not connected") : "not configured") : "—";
    return el("tr", { "data-stack": s.name },
      el("th", { scope: "row" }, show),
      el("td", { "data-col": "filterSet" }, f.text(s.filterSet)),
      el("td", {}, f.yesNo(s.ipSecurity)),
      el("td", {}, f.yesNo(s.ipv6Security)),
      el("td", {}, f.yesNo(s.filterLogging)),
      el("td", {}, f.yesNo(s.preDecapFiltering)),
      el("td", {}, f.yesNo(s.dvipsec)),
      el("td", {}, f.yesNo(s.fips140)),
      el("td", {}, nss),
      el("td", {}, access));
  });
  fill($("stacks").tBodies[0], rows.length ? rows : [emptyRow(10, "No stacks you may display.")]);
  markSelected();
}

function renderIdentity() {
  const box = $("identity");
  const w = page.who;
  let text;
  if (!w) {
    text = "Not authenticated.";
  } else if (w.authentication === "anonymous") {
    text = "Anonymous access as " + f.text(w.user) + ".";
  } else {
    const groups = Array.isArray(w.groups) && w.groups.length ? "; groups " + w.groups.join(", ") : "";
    text = "Signed in as " + f.text(w.user) + " (" + f.text(w.authentication) + groups + ").";
  }
  if (box.textContent !== text) {
    box.textContent = text;
  }
  box.dataset.user = w ? String(w.user || "") : "";
}

// ---- refreshing ----------------------------------------------------------

async function refreshOnce() {
  page.polls++;
  let whoChanged = false;
  try {
    // whoami carries no ETag: compare the answers.
    const { data } = await api.get("v1/whoami");
    whoChanged = JSON.stringify(data) !== JSON.stringify(page.who);
    page.who = data;
    setError("whoami", null);
  } catch (err) {
    whoChanged = page.who !== null;
    page.who = null;
    // The stacks' own error says the same for 401 and 503.
    setError("whoami", err.status === 401 || err.status === 503 || err.status === 0 ? null : err, "Reading your identity");
  }
  renderIdentity();

  await refreshSystems();
  // The overview reads beside the selected stack.
  const overview = fleet.refresh();
  const items = page.system ? await refreshStacks(whoChanged) : [];
  const names = items.map((s) => s.name);
  if (names.length && !names.includes(page.stack)) {
    const h = readHash();
    const wanted = (h.system || defaultSystem()) === page.system ? h.stack : "";
    selectStack(names.includes(wanted) ? wanted : names[0]);
  }
  const v = page.view;
  if (v) {
    const control = rightsOf(v.system, v.name).control;
    renderActivateForm(v, control);
    renderFilterSetControl(v, items.find((s) => s.name === v.name), control);
    await Promise.all([refreshSummary(v), ...LISTS.map((def) => refreshList(v, def))]);
  }
  await overview;
  noteRound();
}

// refreshStacks reads the stacks of the selected system (shown again
// when they or the caller changed) and answers them; the selected stack's
// filter set control follows.
async function refreshStacks(whoChanged) {
  let stacks = page.stacks;
  const system = page.system;
  try {
    const { data, changed } = await api.get(api.systemURL(system, "stacks"));
    if (system !== page.system) {
      return [];
    }
    stacks = data;
    if (changed || whoChanged || page.stacks !== data) {
      page.stacks = data;
      renderStacks(data);
    }
    $("stacks").classList.remove("stale");
    setError("stacks", null);
  } catch (err) {
    if (system !== page.system) {
      return [];
    }
    setError("stacks", err, "Loading the stacks" + (severalSystems() ? " of " + system : ""));
    if (err.status === 401 || err.status === 403) {
      // Nothing to show to this caller: drop the view of the last one.
      page.stacks = null;
      stacks = null;
      fill($("stacks").tBodies[0], emptyRow(10, "No stacks: " + (err.status === 401 ? "not authenticated." : "not permitted.")));
      page.stack = "";
      if (page.view && page.view.health) {
        page.view.health.destroy();
      }
      page.view = null;
      fill($("stack"));
    } else {
      $("stacks").classList.add("stale");
    }
  }
  renderErrors();
  const items = stacks && Array.isArray(stacks.items) ? stacks.items : [];
  const v = page.view;
  if (v) {
    renderFilterSetControl(v, items.find((s) => s.name === v.name), rightsOf(v.system, v.name).control);
  }
  return items;
}

// noteRound shows when the page was refreshed and how many answers were
// 304 (also as data attributes on the body).
function noteRound() {
  document.body.dataset.polls = String(page.polls);
  document.body.dataset.events = String(page.events);
  document.body.dataset.notModified = String(api.stats.notModified);
  $("updated").textContent = "Updated " + f.time(Date.now()) + "; " + api.stats.notModified +
    " of " + api.stats.requests + " answers unchanged (304).";
}

let timer = 0;
let running = null;
let again = false;
// lastRound is when the last round of reading everything ended.
let lastRound = 0;

// schedule arms the timer of the next automatic round: one interval (the
// stream's state chooses which) after the last round ended, so that the
// stream going up or down changes the interval but never puts the round
// off. A round running now arms it when it ends.
function schedule() {
  clearTimeout(timer);
  if ($("auto-refresh").checked && !running) {
    const every = page.live && page.live.up ? settings.livePollMs : settings.pollMs;
    timer = setTimeout(refreshNow, Math.max(0, lastRound + every - Date.now()));
  }
  renderLive();
}

// ---- the event stream ----------------------------------------------------

// SECTIONS are what an event reads again: a tunnel kind its list and
// those that follow from it (the summary counts IKE and dynamic tunnels;
// port translations belong to dynamic tunnels), a new filter set the
// stacks and the filter rules.
const SECTIONS = {
  ike: ["ike", "summary"],
  dynamic: ["dynamic", "summary", "ports"],
  manual: ["manual"],
};

function renderLive() {
  const box = $("live");
  const l = page.live;
  const secs = (ms) => (ms % 1000 ? ms / 1000 : String(ms / 1000)) + " s";
  let state;
  let text;
  if (!$("auto-refresh").checked) {
    state = "paused";
    text = "Paused";
  } else if (l && l.up) {
    state = "live";
    text = "Live: following the stack's events (and reading everything every " + secs(settings.livePollMs) + ")";
  } else {
    state = "polling";
    text = "Polling every " + secs(settings.pollMs) + (l ? " until the event stream is back" : "");
  }
  if (box.dataset.live !== state || box.textContent !== text) {
    box.dataset.live = state;
    box.textContent = text;
  }
  renderLiveProblem(state === "live" ? l.problem : null, l && l.stack);
}

// renderLiveProblem shows the problem of the stream's last event: error
// (the gateway's last poll of the stack failed) while the stream is up.
// It leaves the region alone when nothing changed, as the gateway repeats
// the error after each failed poll.
function renderLiveProblem(p, stack) {
  const box = $("live-problem");
  let text = "";
  if (p) {
    const title = [p.status, p.title].filter((x) => x !== undefined && x !== null && x !== "").join(" ");
    text = "Live, but the last poll of " + stack + " failed: " + (title || "error") + (p.detail ? " (" + p.detail + ")" : "");
  }
  if (box.textContent !== text) {
    box.textContent = text;
  }
  box.hidden = text === "";
}

// followEvents follows the selected stack's events with the current
// token while automatic refreshing is on, stops following the stream of
// another stack or token, and arms the timer of the next round.
function followEvents() {
  const v = $("auto-refresh").checked ? page.view : null;
  const want = v ? v.system + "/" + v.name : "";
  const token = api.token();
  const l = page.live;
  if (l && l.key === want && l.token === token) {
    schedule();
    return;
  }
  if (l) {
    l.stop();
    page.live = null;
  }
  if (want) {
    // problem: the payload of the last event: error, until another event
    // or a new connection.
    const live = { key: want, stack: v.name, token, up: false, problem: null };
    const url = api.stackURL(v.system, v.name, "events", { interval: settings.interval });
    live.stop = follow(url, token, {
      onOpen: async (resumed) => {
        if (page.live !== live) {
          return;
        }
        // A new connection: the gateway sends the current error again.
        live.problem = null;
        // Subscribed: read what the events will change from now on,
        // unless the gateway replays what was missed.
        if (!resumed) {
          await refreshNow();
        }
        if (page.live === live) {
          live.up = true;
          schedule();
        }
      },
      onEvent: (ev) => {
        if (page.live !== live) {
          return;
        }
        const problem = ev.type === "error" ? problemOfEvent(ev) : null;
        if (problem || live.problem) {
          live.problem = problem;
          renderLive();
        }
        onStackEvent(ev);
      },
      onDown: () => {
        if (page.live === live) {
          live.up = false;
          live.problem = null;
          schedule();
        }
      },
    });
    page.live = live;
  }
  schedule();
}

// problemOfEvent is the problem an event: error carries (RFC 9457 JSON),
// or one that says the payload was not one.
function problemOfEvent(ev) {
  try {
    const p = JSON.parse(ev.data);
    if (p && typeof p === "object" && !Array.isArray(p)) {
      return p;
    }
  } catch {
    // Not JSON: fall through.
  }
  return { title: "Error", detail: String(ev.data) };
}

function onStackEvent(ev) {
  page.events++;
  document.body.dataset.events = String(page.events);
  let data = {};
  try {
    data = JSON.parse(ev.data);
  } catch {
    // Not JSON: the event still says something changed.
  }
  switch (ev.type) {
    case "tunnel.added":
    case "tunnel.changed":
    case "tunnel.removed":
      for (const s of SECTIONS[data.kind] || ["ike", "dynamic", "manual", "summary"]) {
        page.dirty.add(s);
      }
      // The IKE tunnels list their phase 2 tunnels when cascade is on.
      if (data.kind === "dynamic" && page.view && page.view.lists.ike.cascade) {
        page.dirty.add("ike");
      }
      break;
    case "stack.filterSetChanged":
      page.dirty.add("stacks");
      page.dirty.add("filters");
      break;
    case "reset":
    case "recovered":
    case "stack.connected":
    case "stack.disconnected":
      // reset: events were lost; recovered: polling works again after
      // errors, and lists that failed meanwhile show their problem; an NSS
      // client (dis)connected: its system's stacks and the overview say so.
      refreshNow();
      return;
    default:
      // "error": a poll of the NMI failed, shown by the live indicator
      // (the lists show their own problems when they fail).
      return;
  }
  queueMicrotask(readDirty);
}

// readDirty reads again the sections events named; events arriving
// meanwhile are read in the next turn.
let reading = false;
async function readDirty() {
  if (reading || page.dirty.size === 0) {
    return;
  }
  reading = true;
  try {
    while (page.dirty.size) {
      const dirty = new Set(page.dirty);
      page.dirty.clear();
      const v = page.view;
      if (!v) {
        break;
      }
      await Promise.all([
        dirty.has("stacks") ? refreshStacks(false) : null,
        dirty.has("summary") ? refreshSummary(v) : null,
        ["summary", "ike", "dynamic", "manual"].some((k) => dirty.has(k)) ? v.health.sample() : null,
        ...LISTS.filter((def) => dirty.has(def.key)).map((def) => refreshList(v, def)),
      ]);
    }
  } finally {
    reading = false;
  }
}

// refreshNow refreshes the page now; a call during a refresh runs one
// more round after it.
async function refreshNow() {
  if (running) {
    again = true;
    return running;
  }
  // The round's end arms the timer again.
  clearTimeout(timer);
  running = (async () => {
    do {
      again = false;
      try {
        await refreshOnce();
      } catch (err) {
        setError("page", err, "Refreshing");
        renderErrors();
      }
    } while (again);
  })();
  try {
    await running;
  } finally {
    running = null;
    lastRound = Date.now();
    followEvents();
  }
}

// ---- start ---------------------------------------------------------------

function start() {
  const input = $("token");
  input.value = api.token();
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    api.setToken(input.value.trim());
    page.who = null;
    page.stack = "";
    if (page.view && page.view.health) {
      page.view.health.destroy();
    }
    page.view = null;
    fill($("stack"));
    refreshNow();
  });
  $("token-forget").addEventListener("click", () => {
    input.value = "";
    api.setToken("");
    page.who = null;
    refreshNow();
  });
  $("auto-refresh").addEventListener("change", followEvents);
  $("refresh-now").addEventListener("click", () => refreshNow());
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      refreshNow();
    }
  });
  $("system").addEventListener("change", () => chooseSystem($("system").value));
  window.addEventListener("hashchange", () => {
    // A hash the page did not write (typed, or a bookmark): show what it says.
    const h = readHash();
    if ((h.stack || h.system) && location.hash !== page.hash) {
      const system = h.system || defaultSystem();
      if (system && system !== page.system) {
        selectSystem(system);
      }
      if (h.stack) {
        selectStack(h.stack, true);
      }
      refreshNow();
    }
  });
  // The systems' first answer chooses the system and stack the hash names.
  page.system = readHash().system;
  refreshNow();
}

start();
