// A parser of Server-Sent Events (the text/event-stream format of the
// HTML standard, "Parsing an event stream"), for streams read with
// fetch(): EventSource cannot send the Authorization header. Text goes in
// as decoded chunks split anywhere, even between the CR and LF of a line
// end; what the stream says comes out in order.

// createParser answers a parser whose push(text) answers the records the
// text completes:
//   {type, data, id}  an event (type "message" when the stream names none;
//                     id is the last event ID in effect)
//   {comment}         a comment line (": ping" gives "ping")
//   {retry}           a reconnection time in milliseconds
// and whose lastEventId is the last event ID set so far (an "id" field
// sets it even without an event). A line not yet ended waits for the next
// chunk; an event not ended by an empty line when the stream ends is
// dropped, as the standard says.
export function createParser() {
  let buf = ""; // the start of a line not yet ended
  let skipLF = false; // the last chunk ended with CR: an LF next belongs to it
  let first = true; // the stream's first character is still to come (BOM)
  let data = "";
  let type = "";
  let hasData = false;
  const p = { lastEventId: "", retry: null };

  function line(s, out) {
    if (s === "") {
      if (hasData) {
        out.push({ type: type || "message", data: data.endsWith("\n") ? data.slice(0, -1) : data, id: p.lastEventId });
      }
      data = "";
      type = "";
      hasData = false;
      return;
    }
    if (s[0] === ":") {
      out.push({ comment: s.slice(1).replace(/^ /, "") });
      return;
    }
    const colon = s.indexOf(":");
    const field = colon < 0 ? s : s.slice(0, colon);
    let value = colon < 0 ? "" : s.slice(colon + 1);
    if (value[0] === " ") {
      value = value.slice(1);
    }
    switch (field) {
      case "event":
        type = value;
        break;
      case "data":
        data += value + "\n";
        hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) {
          p.lastEventId = value;
        }
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) {
          p.retry = Number(value);
          out.push({ retry: p.retry });
        }
        break;
      default:
        // Unknown fields are ignored.
    }
  }

  p.push = (text) => {
    const out = [];
    let s = String(text);
    if (skipLF && s.length > 0) {
      if (s[0] === "\n") {
        s = s.slice(1);
      }
      skipLF = false;
    }
    if (first && s.length > 0) {
      first = false;
      if (s[0] === "\uFEFF") {
        s = s.slice(1);
      }
    }
    // buf holds no line end: look only at the new text.
    let i = buf.length;
    buf += s;
    let start = 0;
    for (; i < buf.length; i++) {
      const c = buf[i];
      if (c !== "\n" && c !== "\r") {
        continue;
      }
      line(buf.slice(start, i), out);
      if (c === "\r") {
        if (i + 1 === buf.length) {
          skipLF = true;
        } else if (buf[i + 1] === "\n") {
          i++;
        }
      }
      start = i + 1;
    }
    buf = buf.slice(start);
    return out;
  };
  return p;
}
