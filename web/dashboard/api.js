// The gateway's REST API as the dashboard uses it: bearer token from
// session storage, conditional GETs with ETag/If-None-Match, and
// problem+json errors as ApiError.

const TOKEN_KEY = "nmigw.token";
const CACHE_LIMIT = 200;

// cache maps a GET URL to the last answer and its ETag. It is cleared when
// the token changes (answers vary by Authorization).
const cache = new Map();

// memoryToken stands in for session storage where the browser refuses it.
let memoryToken = "";

// stats counts the GETs sent and the 304 answers (the page shows them).
export const stats = { requests: 0, notModified: 0 };

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || memoryToken;
  } catch {
    return memoryToken;
  }
}

export function setToken(value) {
  memoryToken = "";
  try {
    if (value) {
      sessionStorage.setItem(TOKEN_KEY, value);
    } else {
      sessionStorage.removeItem(TOKEN_KEY);
    }
  } catch {
    // Storage refused (private mode): the token lasts until the page reloads.
    memoryToken = value;
  }
  cache.clear();
}


// ApiError is a failed request: status 0 when the gateway was not reached,
// problem the RFC 9457 body (or one made up from the status line).
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || "HTTP " + status);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter || "";
  }
}

async function send(method, url, body, etag) {
  const headers = { Accept: "application/json, application/problem+json" };
  const tok = token();
  if (tok) {
    headers.Authorization = "Bearer " + tok;
  }
  if (etag) {
    headers["If-None-Match"] = etag;
  }
  const init = { method, headers, cache: "no-store", credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, {
      title: "Gateway not reached",
      detail: String((err && err.message) || err),
    });
  }
}

async function problemOf(resp) {
  let problem = null;
  const type = resp.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try {
      problem = await resp.json();
    } catch {
      problem = null;
    }
  }
  if (!problem || typeof problem !== "object") {
    problem = { title: resp.statusText || "HTTP error", status: resp.status };
  }
  return new ApiError(resp.status, problem, resp.headers.get("Retry-After"));
}

// get answers {data, changed}: changed is false when the gateway answered
// 304 and data is the answer kept from before.
export async function get(url) {
  const kept = cache.get(url);
  stats.requests++;
  const resp = await send("GET", url, undefined, kept && kept.etag);
  if (resp.status === 304 && kept) {
    stats.notModified++;
    return { data: kept.data, changed: false };
  }
  if (!resp.ok) {
    throw await problemOf(resp);
  }
  const data = await resp.json();
  const etag = resp.headers.get("ETag");
  cache.delete(url);
  if (etag) {
    cache.set(url, { etag, data });
    if (cache.size > CACHE_LIMIT) {
      cache.delete(cache.keys().next().value);
    }
  }
  return { data, changed: true };
}

// post sends a control request and answers its JSON body.
export async function post(url, body) {
  const resp = await send("POST", url, body);
  if (!resp.ok) {
    throw await problemOf(resp);
  }
  return resp.json();
}

// systemURL is the URL of a system's resource (path "" is the system
// itself), relative to the page.
export function systemURL(system, path, query) {
  return withQuery("v1/systems/" + encodeURIComponent(system) + (path ? "/" + path : ""), query);
}

// stackURL is the URL of a resource of stack of system, relative to the
// page: every stack is read under its system
// (/v1/systems/{system}/stacks/{stack}/...), the default one included.
// A query value that is an array repeats its parameter (the API ORs them).
export function stackURL(system, stack, path, query) {
  return systemURL(system, "stacks/" + encodeURIComponent(stack) + (path ? "/" + path : ""), query);
}

function withQuery(url, query) {
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      for (const x of Array.isArray(v) ? v : [v]) {
        if (x !== undefined && x !== null && x !== "") {
          q.append(k, String(x));
        }
      }
    }
    const s = q.toString();
    if (s) {
      url += "?" + s;
    }
  }
  return url;
}
