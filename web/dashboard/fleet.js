// The fleet overview: every system the gateway reaches (GET /v1/systems),
// its kind, whether it answered, its stacks (an NSS client that is no
// longer connected shown as such) and its tunnels by state, summed over
// its stacks.
//
// The counts come from each stack's summary (IKE and dynamic tunnels by
// state, as the health tiles count them) and its manual tunnels (the
// summary has no manual counters): two conditional GETs per stack, one
// NMI exchange each. The fleet lists (/v1/ike/tunnels, ...) would cost
// one exchange per stack per kind, three in all, plus a
// NMsec_GET_STACKINFO per IKE daemon for each of them, and would carry
// every tunnel to the page only to be counted. Stacks that cannot answer
// are not asked: those of a system that did not answer /v1/systems, and
// NSS clients that are not connected.

import * as api from "./api.js";
import { el, fill, table } from "./dom.js";
import * as f from "./format.js";
import { byState, counter, readAll } from "./health.js";

// PARALLEL bounds the stacks read at once.
const PARALLEL = 4;

const UNKNOWN_STACK = "urn:nmigw:problem:unknown-stack";

const KINDS = { iked: "IKE daemon", nss: "behind an NSS server" };

// readStack reads one stack's counts: {ike, dynamic, manual} by state.
async function readStack(system, stack) {
  const [summary, manual] = await Promise.all([
    api.get(api.stackURL(system, stack, "summary")).then((r) => r.data),
    readAll(system, stack, "tunnels/manual"),
  ]);
  const gauges = (c) => ({ active: counter(c, "active"), inProgress: counter(c, "inProgress"), expired: counter(c, "expired") });
  const m = byState(manual).n;
  return {
    ike: gauges(summary.ikeTunnels),
    dynamic: gauges(summary.dynamicTunnels),
    manual: { active: m.active, inactive: m.inactive + m.expired },
  };
}

// inTurn calls fn on each item, at most limit at once.
async function inTurn(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      await fn(items[next++]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function problemText(err) {
  const p = (err && err.problem) || {};
  const status = (err && err.status) || p.status || "";
  return [status, p.title || (err && err.message) || "Error"].join(" ").trim() + (p.detail ? ": " + p.detail : "");
}

// sum adds the counts of the stacks that answered; null when none did.
function sum(counts) {
  if (!counts.length) {
    return null;
  }
  const out = {};
  for (const c of counts) {
    for (const [kind, byKind] of Object.entries(c)) {
      out[kind] = out[kind] || {};
      for (const [k, n] of Object.entries(byKind)) {
        out[kind][k] = (out[kind][k] || 0) + n;
      }
    }
  }
  return out;
}

const STATES = {
  ike: [["active", "active"], ["inProgress", "in progress"], ["expired", "expired"]],
  dynamic: [["active", "active"], ["inProgress", "in progress"], ["expired", "expired"]],
  manual: [["active", "active"], ["inactive", "inactive"]],
};

function countCell(kind, total) {
  if (!total) {
    return el("td", { "data-count": kind }, "—");
  }
  const c = total[kind];
  const attrs = { className: "num", "data-count": kind };
  for (const [k] of STATES[kind]) {
    attrs["data-" + k.replace(/[A-Z]/g, (x) => "-" + x.toLowerCase())] = String(c[k]);
  }
  return el("td", attrs, STATES[kind].map(([k, label]) => f.num(c[k]) + " " + label).join(" · "));
}

// createFleet makes the overview in #fleet-section. opts.choose(name) is
// called when the caller chooses a system there.
export function createFleet(opts) {
  const o = {
    items: null, // the systems shown, from GET /v1/systems; null: hidden
    selected: "",
    read: new Map(), // system -> {stacks: Map(stack -> {counts} | {err})}
    sig: "",
  };
  const box = document.getElementById("fleet");
  const sectionNode = document.getElementById("fleet-section");

  function row(s) {
    const got = o.read.get(s.name);
    const stacks = Array.isArray(s.stacks) ? s.stacks : [];
    const answered = [];
    let connected = 0;
    const stackNodes = stacks.map((st, i) => {
      const r = got && got.stacks.get(st.name);
      // Behind an NSS server, a client gone since /v1/systems answered is
      // an unknown stack (404): not connected.
      const on = st.connected && !(r && r.err && s.kind === "nss" && r.err.status === 404 &&
        (r.err.problem || {}).type === UNKNOWN_STACK);
      connected += on ? 1 : 0;
      const notes = [];
      if (!on) {
        notes.push(el("span", { className: "status-bad" }, "disconnected"));
      } else if (r && r.err) {
        notes.push(el("span", { className: "status-bad" }, "did not answer: " + problemText(r.err)));
      }
      if (r && r.counts) {
        answered.push(r.counts);
      }
      return [i ? ", " : "", el("span", {
        "data-stack": st.name, "data-connected": String(on), "data-problem": r && r.err && on ? String(r.err.status || 0) : "",
      }, f.text(st.name), notes.length ? [" (", notes, ")"] : "")];
    });
    const total = s.reachable && got ? sum(answered) : null;
    const partial = !!got && answered.length < connected;
    const p = s.problem || {};
    const state = s.reachable
      ? el("td", { className: "status-ok", "data-col": "reachable" }, "reachable")
      : el("td", { className: "status-bad wrap", "data-col": "reachable" },
        el("strong", {}, "Unreachable: " + [p.status, p.title].filter((x) => x !== undefined && x !== "").join(" ")),
        p.detail ? el("span", { className: "detail" }, " " + p.detail) : null);
    const choose = el("button", {
      type: "button", "aria-pressed": String(s.name === o.selected), title: "Show the stacks of system " + s.name,
    }, s.name);
    choose.addEventListener("click", () => opts.choose(s.name));
    return el("tr", {
      "data-system": s.name, "data-kind": s.kind, "data-reachable": String(!!s.reachable), "data-partial": String(partial),
      className: s.name === o.selected ? "selected" : "",
    },
    el("th", { scope: "row" }, choose, s.default ? el("span", { className: "help" }, " default") : null),
    el("td", { "data-col": "kind" }, KINDS[s.kind] || f.text(s.kind)),
    state,
    el("td", { className: "wrap", "data-col": "stacks" }, stackNodes.length ? stackNodes : "none",
      partial ? el("span", { className: "help" }, " (counts without the stacks that did not answer)") : null),
    countCell("ike", total), countCell("dynamic", total), countCell("manual", total));
  }

  function render() {
    if (!o.items) {
      return;
    }
    const sig = JSON.stringify([o.items, o.selected, [...o.read].map(([k, v]) => [k, [...v.stacks].map(([n, r]) =>
      [n, r.counts || null, r.err ? [r.err.status, r.err.problem] : null])])]);
    if (sig === o.sig) {
      return;
    }
    o.sig = sig;
    // The keyboard focus stays on the system it was on.
    const had = box.contains(document.activeElement) ? document.activeElement : null;
    const focusedRow = had && had.closest("tr[data-system]");
    fill(box, table("fleet-table", "Every system the gateway reaches, and its tunnels by state, summed over its stacks",
      ["System", "Kind", "Reachability", "Stacks", "IKE tunnels", "Dynamic tunnels", "Manual tunnels"], o.items.map(row)));
    if (focusedRow) {
      const again = [...box.querySelectorAll("tr[data-system]")].find((r) => r.dataset.system === focusedRow.dataset.system);
      if (again) {
        again.querySelector("button").focus();
      }
    } else if (had) {
      box.querySelector(".scroll").focus();
    }
  }

  return {
    // show shows the systems items (null: hides the overview), system
    // selected marked.
    show(items, selected) {
      o.items = items;
      o.selected = selected;
      sectionNode.hidden = !items;
      if (!items) {
        o.read.clear();
        o.sig = "";
        fill(box);
        return;
      }
      render();
    },
    // refresh reads the counts of every stack that can answer.
    async refresh() {
      const items = o.items;
      if (!items) {
        return;
      }
      const work = [];
      const read = new Map();
      for (const s of items) {
        const stacks = new Map();
        read.set(s.name, { stacks });
        if (!s.reachable) {
          continue;
        }
        for (const st of Array.isArray(s.stacks) ? s.stacks : []) {
          if (st.connected) {
            work.push([s.name, st.name, stacks]);
          }
        }
      }
      await inTurn(work, PARALLEL, async ([system, stack, stacks]) => {
        try {
          stacks.set(stack, { counts: await readStack(system, stack) });
        } catch (err) {
          stacks.set(stack, { err });
        }
      });
      if (o.items !== items) {
        return;
      }
      o.read = read;
      box.dataset.readAt = String(Date.now());
      render();
    },
  };
}
