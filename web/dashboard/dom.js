// DOM helpers. Text from the API only ever becomes text nodes or
// attribute values: nothing here parses HTML.

// el makes an element: attrs sets properties (className, type, ...),
// "data-*" and "aria-*" attributes, and "on*" listeners; children are
// nodes or strings (text).
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) {
      continue;
    }
    if (k.startsWith("on") && typeof v === "function") {
      node.addEventListener(k.slice(2), v);
    } else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "for" || k === "scope") {
      node.setAttribute(k, String(v));
    } else {
      node[k] = v;
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) {
      continue;
    }
    if (Array.isArray(c)) {
      append(node, c);
    } else if (c instanceof Node) {
      node.appendChild(c);
    } else {
      node.appendChild(document.createTextNode(String(c)));
    }
  }
}

// fill replaces the children of node.
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// table makes a table with a caption, column headers and rows, in a box
// that scrolls a wide table sideways; the box takes the keyboard focus so
// that it can be scrolled without a mouse.
export function table(id, caption, headers, rows) {
  return el("div", { className: "scroll", tabIndex: 0, role: "region", "aria-label": caption },
    el("table", { id },
      el("caption", {}, caption),
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)));
}
