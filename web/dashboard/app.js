// The nmigw dashboard: stacks, and for the selected stack its summary,
// tunnels, port translations and filter rules, refreshed every few
// seconds with conditional GETs; control actions for callers whose
// GET /v1/whoami says CONTROL.

import * as api from "./api.js";
import { el, fill, table } from "./dom.js";
import * as f from "./format.js";

const INTERVAL_MS = 5000;
const PAGE_SIZES = [10, 25, 50, 100, 500];

const $ = (id) => document.getElementById(id);

const page = {
  who: null, // GET /v1/whoami, or null when it failed
  stacks: null, // GET /v1/stacks answer
  stack: "", // the selected stack's name
  view: null, // the selected stack's sections
  errors: new Map(), // page-wide problems by source
  rules: new Set(), // LocalDynVpnRule names seen, for the activate form
  polls: 0,
};

// ---- rights --------------------------------------------------------------

function rightsOf(stack) {
  const s = page.who && Array.isArray(page.who.stacks) ? page.who.stacks.find((x) => x.stack === stack) : null;
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
    const extra = answer.reached === undefined ? null
      : el("p", {}, answer.reached ? "The target state was reached." : "The target state was not reached in time.");
    fill(box, table("results-table", label + ": " + answer.results.length + " result(s)",
      ["Name", "Tunnel", "Status"], rows.length ? rows : [emptyRow(3, "No tunnels matched.")]), extra);
    return;
  }
  if (answer && answer.filterSet) {
    fill(box, el("p", { "data-status": "filterSet" },
      label + ": stack " + f.text(answer.stack) + " now uses the " + f.text(answer.filterSet) + " filter set."));
    return;
  }
  fill(box, el("p", {}, label + ": done."));
}

async function act(button, label, url, body) {
  button.disabled = true;
  const box = page.view && page.view.results;
  if (box) {
    fill(box, el("p", {}, label + "…"));
  }
  try {
    const answer = await api.post(url, body);
    showResults(label, answer);
  } catch (err) {
    if (box) {
      fill(box, el("div", { className: "problem", role: "alert" }, problemNodes(err, label)));
    }
  } finally {
    button.disabled = false;
  }
  await refreshNow();
}

function actionButton(action, text, label, url, body, danger) {
  const b = el("button", {
    type: "button",
    className: danger ? "danger" : "",
    "data-action": action,
    "aria-label": label,
    title: label,
  }, text);
  b.addEventListener("click", () => act(b, label, url, body));
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

const LISTS = [
  {
    key: "ike",
    title: "IKE tunnels",
    path: "ike/tunnels",
    pageSize: 50,
    headers: ["Tunnel", "Generation", "State", "Key exchange rule", "Local endpoint", "Remote endpoint",
      "Role", "IKE version", "NAT traversal", "Bytes", "Activated", "Expires"],
    cells: (t) => [td(t.tunnelId), tdNum(t.generation), tdState(t.state), td(t.keyExchangeRule),
      td(t.localEndpoint), td(t.remoteEndpoint), td(t.role), td(t.ikeVersion),
      td(f.yesNo(t.natTraversalEnabled)), tdNum(t.bytes), td(f.time(t.activateTime)), td(f.time(t.expireTime))],
    actions: (t, stack) => [
      actionButton("refresh", "Refresh", "Refresh IKE tunnel " + t.tunnelId,
        api.stackURL(stack, tunnelPath("ike/tunnels", t.tunnelId, "refresh"))),
      actionButton("deactivate", "Deactivate", "Deactivate IKE tunnel " + t.tunnelId,
        api.stackURL(stack, tunnelPath("ike/tunnels", t.tunnelId, "deactivate")), undefined, true),
    ],
  },
  {
    key: "dynamic",
    title: "Dynamic tunnels",
    path: "tunnels/dynamic",
    pageSize: 50,
    headers: ["Tunnel", "Generation", "State", "Dynamic VPN rule", "VPN action", "Local endpoint",
      "Remote endpoint", "IKE tunnel", "Bytes", "Expires"],
    cells: (t) => [td(t.tunnelId), tdNum(t.generation), tdState(t.state), td(t.localDynVpnRule), td(t.vpnAction),
      td(t.localSecurityEndpoint), td(t.remoteSecurityEndpoint), td(t.ikeTunnelId),
      el("td", { className: "num" }, f.traffic((t.stackView && t.stackView.traffic) || t.traffic)),
      td(f.time(t.expireTime))],
    actions: (t, stack) => [
      actionButton("refresh", "Refresh", "Refresh dynamic tunnel " + t.tunnelId,
        api.stackURL(stack, tunnelPath("tunnels/dynamic", t.tunnelId, "refresh"))),
      actionButton("deactivate", "Deactivate", "Deactivate dynamic tunnel " + t.tunnelId,
        api.stackURL(stack, tunnelPath("tunnels/dynamic", t.tunnelId, "deactivate")), undefined, true),
      t.localDynVpnRule && (t.state === "expired" || t.state === "inactive")
        ? actionButton("activate", "Activate rule", "Activate dynamic VPN rule " + t.localDynVpnRule,
          api.stackURL(stack, "tunnels/dynamic:activate"), { names: [t.localDynVpnRule] })
        : null,
    ],
    seen: (t) => t.localDynVpnRule && page.rules.add(t.localDynVpnRule),
    toolbar: (v) => (v.activateSlot = el("div")),
  },
  {
    key: "manual",
    title: "Manual tunnels",
    path: "tunnels/manual",
    pageSize: 50,
    headers: ["Tunnel", "State", "VPN action", "Local endpoint", "Remote endpoint", "Encryption", "Bytes",
      "Activated"],
    cells: (t) => [td(t.tunnelId), tdState(t.state), td(t.vpnAction), td(t.localSecurityEndpoint),
      td(t.remoteSecurityEndpoint),
      td(t.security ? f.text(t.security.encryptionAlgorithm) + " " + f.text(t.security.encryptionKeyLength) : ""),
      el("td", { className: "num" }, f.traffic(t.traffic)), td(f.time(t.activateTime))],
    actions: (t, stack) => [
      t.state === "inactive" || t.state === "expired"
        ? actionButton("activate", "Activate", "Activate manual tunnel " + t.tunnelId,
          api.stackURL(stack, tunnelPath("tunnels/manual", t.tunnelId, "activate")))
        : actionButton("deactivate", "Deactivate", "Deactivate manual tunnel " + t.tunnelId,
          api.stackURL(stack, tunnelPath("tunnels/manual", t.tunnelId, "deactivate")), undefined, true),
    ],
  },
  {
    key: "ports",
    title: "Port translations",
    path: "port-translations",
    pageSize: 50,
    headers: ["Tunnel", "Protocol", "Remote endpoint", "Remote UDP port", "Remote original address",
      "Remote original port", "Translated port", "Local port"],
    cells: (p) => [td(p.tunnelId), td(f.protocol(p.protocol)), td(p.remoteSecurityEndpoint), td(p.remoteUdpPort),
      td(p.remoteOriginalAddress), td(p.remoteOriginalPort), td(p.translatedPort), td(p.localPort)],
  },
  {
    key: "filters",
    title: "Filter rules",
    path: "filters",
    pageSize: 25,
    query: (ls) => ({ set: ls.set }),
    headers: ["Name", "Extension", "Group", "Type", "State", "Action", "Direction", "Scope", "Protocol",
      "Source", "Source ports", "Destination", "Destination ports", "Logging", "Matches"],
    cells: (r) => [td(r.name), td(r.nameExtension), td(r.groupName), td(r.type), tdState(r.state), td(r.action),
      td(r.direction), td(r.scope), td(f.protocol(r.protocol)), td(f.address(r.source)), td(f.ports(r.sourcePorts)),
      td(f.address(r.destination)), td(f.ports(r.destinationPorts)), td(r.logging), tdNum(r.matchCount)],
    toolbar: (v, ls) => filterSetSelect(v, ls),
  },
];

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
    act(button, "Activate dynamic VPN rules " + names.join(", "),
      api.stackURL(v.name, "tunnels/dynamic:activate"), { names });
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
    resetPaging(ls);
    refreshNow();
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
    resetPaging(ls);
    refreshNow();
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
  const headers = withActions ? [...def.headers, "Actions"] : def.headers;
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
    const cells = def.cells(it);
    if (withActions) {
      const g = typeof it.generation === "number" ? it.generation : 0;
      cells.push(el("td", { className: "actions" }, newest.get(it.tunnelId) === g ? def.actions(it, v.name) : null));
    }
    return el("tr", attrs, cells);
  });
  const caption = def.title + " of " + v.name + (items.length ? "" : ": none");
  fill(ls.content, table("list-" + def.key, caption, headers,
    rows.length ? rows : [emptyRow(headers.length, "None.")]));
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

async function refreshList(v, def) {
  const ls = v.lists[def.key];
  const control = rightsOf(v.name).control;
  const url = () => api.stackURL(v.name, def.path,
    { ...(def.query ? def.query(ls) : {}), pageSize: ls.pageSize, pageToken: ls.token });
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
    if (page.view !== v) {
      return;
    }
    renderList(v, def, ls, answer.data, control);
    ls.content.classList.remove("stale");
    sectionError(ls.error, null);
  } catch (err) {
    if (page.view !== v) {
      return;
    }
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
  try {
    const { data } = await api.get(api.stackURL(v.name, "summary"));
    if (page.view !== v) {
      return;
    }
    renderSummary(v, data);
    v.summary.classList.remove("stale");
    sectionError(v.summaryError, null);
  } catch (err) {
    if (page.view !== v) {
      return;
    }
    v.summary.classList.add("stale");
    sectionError(v.summaryError, err, "Loading the summary");
  }
}

// ---- the selected stack --------------------------------------------------

function section(id, title, ...children) {
  return el("section", { "aria-labelledby": id + "-title", id: "section-" + id },
    el("h3", { id: id + "-title" }, title), children);
}

function buildStackView(name) {
  const v = { name, lists: {}, summaryData: null };
  v.results = el("div", { id: "results", className: "results", role: "status", "aria-live": "polite" });
  v.filterSet = el("div", { className: "toolbar", id: "filter-set-control" });
  v.summary = el("div");
  v.summaryError = el("div", { className: "problem", hidden: true });
  const parts = [
    el("h2", { id: "stack-title" }, "Stack " + name),
    v.filterSet,
    v.results,
    section("summary", "Summary", v.summaryError, v.summary),
  ];
  for (const def of LISTS) {
    const ls = { pageSize: def.pageSize, token: "", prev: [], next: "", set: "current", data: null, control: null };
    ls.error = el("div", { className: "problem", hidden: true });
    ls.content = el("div");
    v.lists[def.key] = ls;
    parts.push(section(def.key, def.title, def.toolbar ? def.toolbar(v, ls) : null, ls.error, ls.content, pager(v, def, ls)));
  }
  fill($("stack"), el("section", { "aria-labelledby": "stack-title", "data-stack": name }, parts));
  return v;
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
      actionButton("load-default", "Load default filter set", "Load the default filter set on " + v.name,
        api.stackURL(v.name, "filters:loadDefault")),
      actionButton("load-policy", "Load policy filter set", "Load the policy filter set on " + v.name,
        api.stackURL(v.name, "filters:loadPolicy")));
  }
  fill(v.filterSet, parts);
}

function selectStack(name) {
  if (page.stack === name && page.view) {
    return;
  }
  page.stack = name;
  page.rules.clear();
  page.view = name ? buildStackView(name) : null;
  if (!name) {
    fill($("stack"));
  }
  const hash = name ? "#stack=" + encodeURIComponent(name) : "";
  if (location.hash !== hash) {
    history.replaceState(null, "", hash || location.pathname + location.search);
  }
  markSelected();
}

function hashStack() {
  const m = /^#stack=(.*)$/.exec(location.hash);
  if (!m) {
    return "";
  }
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return "";
  }
}

// ---- stacks and identity -------------------------------------------------

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
    const r = rightsOf(s.name);
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

  let stacks = page.stacks;
  try {
    const { data, changed } = await api.get("v1/stacks");
    stacks = data;
    if (changed || whoChanged || page.stacks !== data) {
      page.stacks = data;
      renderStacks(data);
    }
    $("stacks").classList.remove("stale");
    setError("stacks", null);
  } catch (err) {
    setError("stacks", err, "Loading the stacks");
    if (err.status === 401 || err.status === 403) {
      // Nothing to show to this caller: drop the view of the last one.
      page.stacks = null;
      stacks = null;
      fill($("stacks").tBodies[0], emptyRow(10, "No stacks: " + (err.status === 401 ? "not authenticated." : "not permitted.")));
      page.stack = "";
      page.view = null;
      fill($("stack"));
    } else {
      $("stacks").classList.add("stale");
    }
  }
  renderErrors();

  const items = stacks && Array.isArray(stacks.items) ? stacks.items : [];
  const names = items.map((s) => s.name);
  if (names.length && !names.includes(page.stack)) {
    const wanted = hashStack();
    selectStack(names.includes(wanted) ? wanted : names[0]);
  }
  const v = page.view;
  if (!v) {
    noteRound();
    return;
  }
  const control = rightsOf(v.name).control;
  renderFilterSetControl(v, items.find((s) => s.name === v.name), control);
  renderActivateForm(v, control);
  await Promise.all([refreshSummary(v), ...LISTS.map((def) => refreshList(v, def))]);
  noteRound();
}

// noteRound shows when the page was refreshed and how many answers were
// 304 (also as data attributes on the body).
function noteRound() {
  document.body.dataset.polls = String(page.polls);
  document.body.dataset.notModified = String(api.stats.notModified);
  $("updated").textContent = "Updated " + new Date().toLocaleTimeString() + "; " + api.stats.notModified +
    " of " + api.stats.requests + " answers unchanged (304).";
}

let timer = 0;
let running = null;
let again = false;

function schedule() {
  clearTimeout(timer);
  if ($("auto-refresh").checked) {
    timer = setTimeout(refreshNow, INTERVAL_MS);
  }
}

// refreshNow refreshes the page now; a call during a refresh runs one
// more round after it.
async function refreshNow() {
  if (running) {
    again = true;
    return running;
  }
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
    schedule();
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
  $("auto-refresh").addEventListener("change", schedule);
  $("refresh-now").addEventListener("click", () => refreshNow());
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      refreshNow();
    }
  });
  window.addEventListener("hashchange", () => {
    const name = hashStack();
    if (name && name !== page.stack) {
      selectStack(name);
      refreshNow();
    }
  });
  const wanted = hashStack();
  if (wanted) {
    selectStack(wanted);
  }
  refreshNow();
}

start();
