// The TypeScript client: openapi-typescript's types for the document (`./api`, generated
// beside this file by scripts/api-fuzz.sh) over openapi-fetch, against a running server.
// `tsc --strict` checks the arguments and answers against the document; then it runs.
// Usage: node ts_client.js BASE_URL
import assert from "node:assert/strict";
import createClient from "openapi-fetch";
import type { components, paths } from "./api";

type Status = components["schemas"]["StatusParam"];
type WindowKind = components["schemas"]["WindowKind"];

const baseUrl = process.argv[2];
const client = createClient<paths>({ baseUrl });

// A fixed as_of makes the typed call and the raw one the same request.
const asOf = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
const window: WindowKind = "week";
const status: Status[] = ["OPEN", "IN_PROGRESS"];

const { data, error, response } = await client.GET("/api/v1/inc/dashboard", {
  params: { query: { window, status, as_of: asOf } },
});
assert.equal(response.status, 200, JSON.stringify(error));
assert.ok(data);
const served = await (await fetch(response.url)).json();
const openCount: number = data.metrics.open_count;
assert.equal(openCount, served.metrics.open_count);
assert.ok(openCount > 0 && openCount === data.open.features.length);
assert.deepEqual(data.filters.status, ["IN_PROGRESS", "OPEN"]);
assert.equal(data.window.kind, "week");
for (const f of data.open.features) assert.ok(status.includes(f.properties.normalized_status as Status));

// A refusal is typed too: the parameter is named.
const bad = await client.GET("/api/v1/inc/teams", {
  params: { query: { window: "custom", from: "2026-06-02", to: "2026-06-01" } },
});
assert.equal(bad.response.status, 400);
assert.equal(bad.error?.parameter, "to");

const teams = await client.GET("/api/v1/inc/teams", {
  params: { query: { by: "team", window, status, as_of: asOf } },
});
assert.ok(teams.data);
assert.equal(teams.data.total.open, openCount);
console.log(`ts-client: ok (open this week: ${openCount}, teams: ${teams.data.rows.length})`);
