// A TypeScript client of the nmigw REST API: the types openapi-typescript
// generates from api/openapi.yaml (schema.gen.ts), called through
// openapi-fetch. Regenerate with `npm run generate` after changing the
// document; `make test` fails while the committed files differ.
//
//	const gw = createNmigwClient({ baseUrl: "http://localhost:8080", token });
//	const { data, error } = await gw.GET("/v1/stacks/{stack}/ike/tunnels", {
//	  params: { path: { stack: "TCPIP" }, query: { pageSize: 50 } },
//	});
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema.gen.js";

export type { components, operations, paths };

/** An RFC 9457 problem, the body of every error answer. */
export type Problem = components["schemas"]["Problem"];

/** The API's client: openapi-fetch's, typed by the document's paths. */
export type NmigwClient = Client<paths>;

export interface Options {
  /** The gateway's base URL, e.g. `https://nmigw.example.com`. */
  baseUrl: string;
  /** A bearer token, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** A fetch of the caller's (default: the global fetch). */
  fetch?: typeof globalThis.fetch;
}

/** createNmigwClient returns a client of the gateway at opts.baseUrl. */
export function createNmigwClient(opts: Options): NmigwClient {
  const client = createClient<paths>({ baseUrl: opts.baseUrl, fetch: opts.fetch });
  const token = opts.token;
  if (token !== undefined) {
    const auth: Middleware = {
      onRequest({ request }) {
        request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    };
    client.use(auth);
  }
  return client;
}
