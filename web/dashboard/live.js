// Following a stack's event stream (GET /v1/stacks/{stack}/events) with
// fetch(), which sends the bearer token, and the parser of sse.js. The
// stream is opened again after it ends or fails, with backoff and
// Last-Event-ID, so that the gateway replays what was missed (or says
// reset).

import { createParser } from "./sse.js";

// The wait before opening the stream again: from the stream's retry (or
// FIRST_MS), doubled after each failure in a row, at most MAX_MS.
const FIRST_MS = 1000;
const MAX_MS = 30000;
// SILENT_MS without a byte (the gateway sends ": ping" every 15 s) and
// the connection is taken for dead.
const SILENT_MS = 45000;

// follow opens the stream at url with token and calls
//   onOpen(resumed)  when the gateway accepted the stream (resumed: it was
//                    asked for the events after a Last-Event-ID);
//   onEvent(ev)      for each event {type, data, id};
//   onDown(err)      when the stream ended or failed (err: an Error with
//                    status, 0 when the gateway was not reached).
// It answers a function that stops following.
export function follow(url, token, { onOpen, onEvent, onDown }) {
  let stopped = false;
  let ctrl = null;
  let wake = null;
  let lastId = "";
  let retry = FIRST_MS;

  const sleep = (ms) => new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(t);
      resolve();
    };
  });

  async function once() {
    ctrl = new AbortController();
    const headers = { Accept: "text/event-stream" };
    if (token) {
      headers.Authorization = "Bearer " + token;
    }
    if (lastId) {
      headers["Last-Event-ID"] = lastId;
    }
    let resp;
    try {
      resp = await fetch(url, { headers, cache: "no-store", credentials: "same-origin", signal: ctrl.signal });
    } catch (err) {
      throw Object.assign(new Error(String((err && err.message) || err)), { status: 0 });
    }
    const type = resp.headers.get("Content-Type") || "";
    if (!resp.ok || !type.startsWith("text/event-stream") || !resp.body) {
      ctrl.abort();
      throw Object.assign(new Error("the event stream answered " + resp.status), { status: resp.status });
    }
    const parser = createParser();
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let silent = 0;
    const watch = () => {
      clearTimeout(silent);
      silent = setTimeout(() => ctrl.abort(), SILENT_MS);
    };
    watch();
    onOpen(lastId !== "");
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || stopped) {
          break;
        }
        watch();
        for (const r of parser.push(value)) {
          if (r.retry !== undefined) {
            retry = Math.min(Math.max(r.retry, 100), MAX_MS);
          } else if (r.type !== undefined && !stopped) {
            onEvent(r);
          }
        }
        lastId = parser.lastEventId;
      }
    } catch (err) {
      if (!stopped) {
        throw Object.assign(new Error("the event stream broke: " + String((err && err.message) || err)), { status: 0 });
      }
    } finally {
      clearTimeout(silent);
      lastId = parser.lastEventId || lastId;
      ctrl.abort();
    }
    return new Error("the event stream ended");
  }

  (async () => {
    let failures = 0;
    while (!stopped) {
      let err;
      const began = Date.now();
      try {
        err = await once();
      } catch (e) {
        err = e;
      }
      if (stopped) {
        return;
      }
      onDown(err);
      // A stream that stayed up a while starts the backoff again.
      failures = Date.now() - began > MAX_MS ? 1 : failures + 1;
      const ms = Math.min(retry * 2 ** (failures - 1), MAX_MS);
      await sleep(ms * (0.75 + Math.random() / 2));
    }
  })();

  return () => {
    stopped = true;
    if (ctrl) {
      ctrl.abort();
    }
    if (wake) {
      wake();
    }
  };
}
