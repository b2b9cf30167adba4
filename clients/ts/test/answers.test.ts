// Sends every answer of the shared table (internal/failuretest) through
// leasedFetch, one request at a time. clients/answers_test.go serves the
// answers at UPSTREAM_URL/answer/{i}/..., runs a broker that records the
// reports at KEYBROKER_ADDR, and checks that each report reads as the
// table says, as the Go client and the worker must, and that each usage
// report says what the answer's rate-limit headers say.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyBroker, leasedFetch } from "../src/index";

const addr = process.env.KEYBROKER_ADDR;
const upstream = process.env.UPSTREAM_URL;
const count = Number(process.env.ANSWERS ?? "0");

test("every answer of the shared table goes through leasedFetch", { skip: !addr || !count }, async () => {
  const f = leasedFetch(new KeyBroker({ address: `http://${addr}` }), "table");
  for (let i = 0; i < count; i++) {
    const resp = await f(`${upstream}/answer/${i}/v1/chat/completions`, { method: "POST", body: "{}" });
    assert.notEqual(resp.status, 404, `answer ${i} is not served`);
    await resp.arrayBuffer(); // the caller reads the whole answer
  }
  // The usage reports go in the background; close sends the last ones.
  await f.close();
  assert.equal(f.usageStats().dropped, 0);
  assert.equal(f.usageStats().failed, 0);
});
