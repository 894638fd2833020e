// Formatting of API values as text.

const numbers = new Intl.NumberFormat("en-US");

const protocols = {
  1: "icmp",
  6: "tcp",
  17: "udp",
  41: "ipv6",
  47: "gre",
  50: "esp",
  51: "ah",
  58: "icmpv6",
  89: "ospf",
  132: "sctp",
};

export function text(v) {
  if (v === undefined || v === null || v === "") {
    return "—";
  }
  return String(v);
}

export function num(v) {
  return typeof v === "number" ? numbers.format(v) : text(v);
}

export function yesNo(v) {
  if (v === true) {
    return "yes";
  }
  if (v === false) {
    return "no";
  }
  return text(v);
}

// time shows a time in the dashboard's one format, UTC:
// "YYYY-MM-DD HH:MM:SS UTC". v is an RFC 3339 string from the API, a
// Date, or milliseconds since the epoch.
export function time(v) {
  let d;
  if (typeof v === "string" && v !== "") {
    d = new Date(v);
  } else if (v instanceof Date) {
    d = v;
  } else if (typeof v === "number") {
    d = new Date(v);
  }
  if (!d || Number.isNaN(d.getTime())) {
    return typeof v === "string" && v !== "" ? v : "—";
  }
  return d.toISOString().slice(0, 19).replace("T", " ") + " UTC";
}

// clock shows the time of day of v (as time takes it), UTC: "HH:MM:SS".
export function clock(v) {
  const s = time(v);
  return s === "—" ? s : s.slice(11, 19);
}

// rate shows a per-second rate with at most one decimal.
export function rate(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    return "—";
  }
  return numbers.format(Math.round(v * 10) / 10);
}

// protocol shows an IP protocol number; 0 is every protocol.
export function protocol(v) {
  if (v === 0) {
    return "any";
  }
  if (typeof v !== "number") {
    return text(v);
  }
  return protocols[v] ? protocols[v] + " (" + v + ")" : String(v);
}

// address shows an AddressSelector.
export function address(a) {
  if (!a || typeof a !== "object") {
    return text(a);
  }
  switch (a.format) {
    case "any":
      return "any";
    case "host":
      return text(a.address);
    case "prefix":
      return text(a.address) + "/" + text(a.prefixLength);
    case "range":
      return text(a.address) + " – " + text(a.endAddress);
    default:
      return text(a.format) + (a.address ? " " + a.address : "");
  }
}

// ports shows a PortRange; 0-0 is every port.
export function ports(r) {
  if (!r || typeof r !== "object") {
    return text(r);
  }
  if (r.low === 0 && r.high === 0) {
    return "any";
  }
  return r.low === r.high ? String(r.low) : r.low + "–" + r.high;
}

// port shows a single port; 0 is every port.
export function port(v) {
  return v === 0 ? "any" : text(v);
}

// traffic shows a Traffic object's bytes in and out.
export function traffic(t) {
  if (!t || typeof t !== "object") {
    return "—";
  }
  return num(t.inboundBytes) + " in / " + num(t.outboundBytes) + " out";
}
