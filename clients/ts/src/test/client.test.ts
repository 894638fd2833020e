// The client against the gateway built from this tree, in front of its
// simulator (-sim): typed lists and pages, the document's own filters:test
// example sent as it is, a typed control answer and typed problems.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { createNmigwClient, type NmigwClient, type Problem } from "../index.js";
import { testFiltersRequestHttps } from "../examples.gen.js";

interface Gateway {
  proc: ChildProcess;
  base: string;
  viewer: string;
  operator: string;
}

// startGateway runs $NMIGW_GATEWAY -sim on a free port and reads its
// address and tokens from what it prints.
function startGateway(): Promise<Gateway> {
  const bin = process.env["NMIGW_GATEWAY"];
  if (bin === undefined || bin === "") {
    return Promise.reject(new Error("NMIGW_GATEWAY must name a gateway binary (go build ./cmd/gateway)"));
  }
  const proc = spawn(bin, ["-sim", "--listen", "127.0.0.1:0", "--log-level", "error"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const got = { base: "", viewer: "", operator: "" };
    const timer = setTimeout(() => reject(new Error("the gateway did not print its address and tokens")), 30_000);
    proc.on("exit", (code) => reject(new Error(`the gateway ended (${code}) before it was ready`)));
    const stdout = proc.stdout;
    if (stdout === null) {
      reject(new Error("no stdout"));
      return;
    }
    createInterface({ input: stdout }).on("line", (line) => {
      for (const [prefix, key] of printed) {
        if (line.startsWith(prefix)) got[key] = line.slice(prefix.length);
      }
      if (got.base !== "" && got.viewer !== "" && got.operator !== "") {
        clearTimeout(timer);
        resolve({ proc, ...got });
      }
    });
  });
}

// What the gateway prints, and where it goes.
const printed: Array<[string, "base" | "viewer" | "operator"]> = [
  ["nmigw gateway listening on ", "base"],
  ["viewer token: ", "viewer"],
  ["operator token: ", "operator"],
];

let gw: Gateway;
let viewer: NmigwClient;
let operator: NmigwClient;

before(async () => {
  gw = await startGateway();
  viewer = createNmigwClient({ baseUrl: gw.base, token: gw.viewer });
  operator = createNmigwClient({ baseUrl: gw.base, token: gw.operator });
});

after(() => {
  gw?.proc.kill("SIGTERM");
});

test("lists stacks, and pages through IKE tunnels", async () => {
  const stacks = await viewer.GET("/v1/stacks");
  assert.equal(stacks.response.status, 200);
  const first = stacks.data?.items[0];
  assert.ok(first, "no stacks");
  assert.match(first.filterSet, /^(default|policy|unknown\(\d+\))$/);

  const all = await viewer.GET("/v1/stacks/{stack}/ike/tunnels", { params: { path: { stack: first.name } } });
  const whole = all.data?.items.map((t) => t.tunnelId) ?? [];
  assert.ok(whole.length >= 3, `only ${whole.length} IKE tunnels`);

  const paged: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await viewer.GET("/v1/stacks/{stack}/ike/tunnels", {
      params: { path: { stack: first.name }, query: { pageSize: 2, pageToken } },
    });
    assert.ok(page.data, `page: ${page.response.status}`);
    assert.ok(page.data.items.length <= 2);
    paged.push(...page.data.items.map((t) => t.tunnelId));
    pageToken = page.data.nextPageToken;
  } while (pageToken !== undefined);
  assert.deepEqual(paged, whole);

  const one = await viewer.GET("/v1/stacks/{stack}/ike/tunnels/{tunnelId}", {
    params: { path: { stack: first.name, tunnelId: whole[0] ?? "" } },
  });
  assert.equal(one.data?.tunnelId, whole[0]);
  assert.ok(one.response.headers.get("ETag"), "no ETag");
});

test("sends the document's filters:test example", async () => {
  const res = await viewer.POST("/v1/stacks/{stack}/filters:test", {
    params: { path: { stack: "TCPIP" } },
    body: testFiltersRequestHttps,
  });
  assert.equal(res.response.status, 200);
  assert.equal(res.data?.stack, "TCPIP");
  assert.match(res.data?.action ?? "", /^(permit|deny|ipsec|defensive-block|unknown\(\d+\))$/);
});

test("a refresh: refused to the viewer with a typed problem, done for the operator", async () => {
  const path = { stack: "TCPIP", tunnelId: "K1" };
  const denied = await viewer.POST("/v1/stacks/{stack}/ike/tunnels/{tunnelId}:refresh", { params: { path } });
  assert.equal(denied.response.status, 403);
  const problem: Problem | undefined = denied.error;
  assert.match(problem?.resource ?? "", /\.TCPIP\.IPSEC\.CONTROL$/);

  const done = await operator.POST("/v1/stacks/{stack}/ike/tunnels/{tunnelId}:refresh", { params: { path } });
  assert.equal(done.response.status, 200);
  assert.deepEqual(done.data?.results.map((r) => r.tunnelId), ["K1"]);
  assert.ok(["stateUpdated", "stateAlreadySet"].includes(done.data?.results[0]?.status ?? ""));
});

test("problems: 404 for an unknown stack, 400 naming the parameter", async () => {
  const missing = await viewer.GET("/v1/stacks/{stack}", { params: { path: { stack: "NOSUCH" } } });
  assert.equal(missing.response.status, 404);
  assert.equal(missing.error?.status, 404);

  const bad = await viewer.GET("/v1/stacks/{stack}/filters", {
    params: { path: { stack: "TCPIP" }, query: { protocol: ["0"] } },
  });
  assert.equal(bad.response.status, 400);
  assert.equal(bad.error?.invalidParams?.[0]?.name, "protocol");
});

test("path parameters are encoded and decoded once", async () => {
  // M1 spelt with an escaped 1 reaches M1; an ID with a / is refused.
  const res = await viewer.GET("/v1/stacks/{stack}/tunnels/manual/{tunnelId}", {
    params: { path: { stack: "TCPIP", tunnelId: "M/1" } },
  });
  assert.equal(res.response.status, 400);
  const m1 = await fetch(`${gw.base}/v1/stacks/TCPIP/tunnels/manual/M%31`, {
    headers: { Authorization: `Bearer ${gw.viewer}` },
  });
  assert.equal(m1.status, 200);
});
