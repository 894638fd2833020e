// The confirmation asked before every control action, in the page's
// native <dialog id="confirm">: modal, naming the action, the system, the
// stack and the targets. Focus starts on Cancel; Cancel or Escape sends
// nothing.
// It also offers ?wait (the API's limit is 60 seconds).

import { el, fill } from "./dom.js";

export const WAITS = [
  ["", "No, answer at once"],
  ["5s", "Up to 5 seconds"],
  ["10s", "Up to 10 seconds"],
  ["30s", "Up to 30 seconds"],
  ["60s", "Up to 60 seconds"],
];

// SHOWN is how many targets the dialog names one by one.
const SHOWN = 12;

// lastWait is the wait chosen last, offered again.
let lastWait = "";

// pending cancels the showing still waiting for its close event.
let pending = null;

function targetList(targets) {
  if (!targets.length) {
    return el("dd", {}, "—");
  }
  const shown = targets.slice(0, SHOWN);
  const more = targets.length - shown.length;
  return el("dd", {},
    el("ul", { className: "targets" }, shown.map((t) => el("li", { "data-target": t }, t))),
    more > 0 ? el("p", {}, "and " + more + " more") : null);
}

// confirmAction shows the dialog for action {title, verb, system, stack,
// targets, danger} and answers null when cancelled, or {wait} ("" or a duration)
// when confirmed.
export function confirmAction(action) {
  const dlg = document.getElementById("confirm");
  const targets = action.targets || [];
  const wait = el("select", { id: "confirm-wait" },
    WAITS.map(([v, label]) => el("option", { value: v, selected: v === lastWait }, label)));
  const cancel = el("button", { type: "button", id: "confirm-cancel", autofocus: true }, "Cancel");
  const ok = el("button", { type: "button", id: "confirm-ok", className: action.danger ? "danger" : "" }, action.verb);
  cancel.addEventListener("click", () => dlg.close("cancel"));
  ok.addEventListener("click", () => dlg.close("ok"));
  fill(dlg,
    el("h2", { id: "confirm-title" }, action.title + "?"),
    el("dl", { id: "confirm-details" },
      el("dt", {}, "Action"), el("dd", { "data-field": "action" }, action.title),
      action.system ? [el("dt", {}, "System"), el("dd", { "data-field": "system" }, action.system)] : null,
      el("dt", {}, "Stack"), el("dd", { "data-field": "stack" }, action.stack),
      el("dt", {}, targets.length === 1 ? "Target" : "Targets (" + targets.length + ")"), targetList(targets)),
    el("p", { className: "wait" },
      el("label", { for: "confirm-wait" }, "Wait for the target state"), " ", wait),
    el("p", { className: "help", id: "confirm-help" },
      "Nothing is sent until you choose " + action.verb + ". Escape or Cancel sends nothing."),
    el("div", { className: "dialog-buttons" }, cancel, ok));
  if (pending) {
    // A dialog still waiting (its close event never came): it was cancelled.
    pending();
  }
  return new Promise((resolve) => {
    const opener = document.activeElement;
    // The close event is dispatched later than close(): one of an earlier
    // showing can arrive while this one is open, or never, when the
    // dialog is shown again first. Only a close of this showing counts.
    const onClose = () => {
      if (dlg.open) {
        return;
      }
      settle(dlg.returnValue === "ok");
      if (opener && opener.isConnected && typeof opener.focus === "function") {
        opener.focus();
      }
    };
    const settle = (confirmed) => {
      dlg.removeEventListener("close", onClose);
      pending = null;
      if (confirmed) {
        lastWait = wait.value;
      }
      resolve(confirmed ? { wait: wait.value } : null);
    };
    pending = () => settle(false);
    dlg.returnValue = "";
    dlg.addEventListener("close", onClose);
    dlg.showModal();
    cancel.focus();
  });
}
