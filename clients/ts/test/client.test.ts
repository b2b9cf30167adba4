// These tests run against a real broker (real Redis) and a fake provider
// that answers like OpenAI, both started by clients/clients_test.go
// (go test ./clients), which passes their addresses in KEYBROKER_ADDR and
// UPSTREAM_URL. The fake provider's answer depends on the key: sk-rate-*
// is rate limited (429, Retry-After: 30), sk-dead-* is refused (401
// invalid_api_key), sk-down-* gets a 503, any other key is served.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import {
  Code,
  ConnectError,
  type GetRandomOptions,
  KeyBroker,
  LeaseError,
  anthropicAuth,
  errorInfo,
  ErrorReason,
  errorReason,
  geminiAuth,
  reason,
  leasedFetch,
  pb,
  retryDelayMs,
  retryInfo,
} from "../src/index";
import { BadRequestSchema } from "../src/gen/google/rpc/error_details_pb";

const addr = process.env.KEYBROKER_ADDR;
const upstream = process.env.UPSTREAM_URL;
if (!addr || !upstream) throw new Error("KEYBROKER_ADDR and UPSTREAM_URL must be set (go test ./clients sets them)");

const kb = new KeyBroker({ address: `http://${addr}` });

async function keys(pool: string) {
  const page = await kb.stub.getAll({ pool, pageSize: 1000 });
  return new Map(page.keys.map((k) => [k.keyId, k]));
}

test("add and lease", async () => {
  const added = await kb.add("ts-lease", ["sk-good-ts-0000000000000001"]);
  assert.equal(added.addedCount, 1);
  const r = await kb.getRandom("ts-lease");
  assert.equal(r.keyId, added.keyIds[0]);
  assert.equal(r.secret, "sk-good-ts-0000000000000001");
  assert.ok(r.lease?.leaseId);
});

test("the OpenAI SDK calls the provider with a leased key", async () => {
  await kb.add("ts-sdk", ["sk-good-ts-0000000000000002"]);
  // The few lines the README shows.
  const openai = new OpenAI({
    apiKey: "leased-by-keybroker",
    baseURL: `${upstream}/v1`,
    fetch: leasedFetch(kb, "ts-sdk"),
  });
  const chat = await openai.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] });
  assert.equal(chat.choices[0].message.content, "served with authorization");
});

test("keys are presented as each provider expects", async () => {
  await kb.add("ts-auth", ["sk-good-ts-0000000000000003"]);
  for (const [auth, header] of [
    [anthropicAuth, "x-api-key"],
    [geminiAuth, "x-goog-api-key"],
  ] as const) {
    const f = leasedFetch(kb, "ts-auth", { auth });
    const resp: Response = await f(`${upstream}/v1/messages`, { method: "POST", body: "{}", headers: { "x-api-key": "placeholder" } });
    assert.equal(resp.status, 200);
    assert.equal(((await resp.json()) as { auth: string }).auth, header);
  }
});

test("a 429 with Retry-After cools the key down, and RetryInfo says for how long", async () => {
  const [id] = (await kb.add("ts-rate", ["sk-rate-ts-0000000000000004"])).keyIds;
  const f = leasedFetch(kb, "ts-rate");
  const resp = await f(`${upstream}/v1/chat/completions`, { method: "POST", body: "{}" });
  assert.equal(resp.status, 429);
  // The caller still reads the provider's whole answer.
  assert.equal(((await resp.json()) as { error: { code: string } }).error.code, "rate_limit_exceeded");

  const k = (await keys("ts-rate")).get(id)!;
  assert.equal(k.state, pb.KeyState.COOLING_DOWN);
  assert.equal(k.lastFailureKind, pb.FailureKind.RATE_LIMITED);
  const until = Number(k.stateUntil!.seconds) * 1000;
  assert.ok(until > Date.now() + 20_000, `cooling down until ${new Date(until).toISOString()}, want about 30s from now`);

  // Every key of the pool cools down: the broker says when to come back.
  // The wait (about 30s) is longer than the retry policy's maxBackoffMs, so
  // the client does not block on it but reports it at once.
  const err = await kb.getRandom("ts-rate").then(
    () => assert.fail("leased from a pool that is all cooling down"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConnectError);
  assert.equal(err.code, Code.Unavailable);
  assert.equal(errorReason(err), "NO_HEALTHY_KEY");
  assert.equal(reason(err), ErrorReason.NO_HEALTHY_KEY);
  assert.equal(errorInfo(err)?.domain, "keybroker");
  const delay = retryDelayMs(err);
  assert.ok(delay > 20_000 && delay <= 30_000, `retry delay ${delay}ms, want about 30s`);
  assert.ok(retryInfo(err)?.retryDelay, "RetryInfo decoded with the generated type");

  // Through the fetch wrapper the same error is the cause of a LeaseError.
  const leaseErr = await f(`${upstream}/v1/chat/completions`).catch((e: unknown) => e);
  assert.ok(leaseErr instanceof LeaseError);
  assert.equal(errorReason(leaseErr), "NO_HEALTHY_KEY");
});

test("retries honour RetryInfo", async () => {
  // The only key cools down for 2s. A client whose retry policy allows
  // waits that long is told so by RetryInfo, waits, and gets the key; its
  // own backoff alone (50ms, 100ms, 200ms) would give up first.
  const [id] = (await kb.add("ts-wait", ["sk-good-ts-0000000000000010"])).keyIds;
  const rep = await kb.reportFailure({
    pool: "ts-wait",
    key: { case: "keyId", value: id },
    httpStatus: 429,
    errorCode: "rate_limit_exceeded",
    retryAfter: { seconds: 2n, nanos: 0 },
  });
  assert.equal(rep.state, pb.KeyState.COOLING_DOWN);
  const patient = new KeyBroker({ address: `http://${addr}`, retry: { maxAttempts: 4, initialBackoffMs: 50, maxBackoffMs: 5000 } });
  assert.equal((await patient.getRandom("ts-wait")).keyId, id);
});

test("an invalid lease is refused with the right reason", async () => {
  await kb.add("ts-invalid", ["sk-good-ts-0000000000000005"]);
  await kb.add("ts-other", ["sk-good-ts-0000000000000015"]);
  // A lease of another pool: NOT_FOUND, LEASE_UNKNOWN.
  const other = await kb.getRandom("ts-other");
  const err = await kb
    .reportFailure({ pool: "ts-invalid", key: { case: "leaseId", value: other.lease!.leaseId }, httpStatus: 429 })
    .catch((e: unknown) => e);
  assert.ok(err instanceof ConnectError, String(err));
  assert.equal(err.code, Code.NotFound);
  assert.equal(reason(err), ErrorReason.LEASE_UNKNOWN);

  // Not a lease at all: INVALID_ARGUMENT with a BadRequest naming the field.
  const bad = await kb
    .reportFailure({ pool: "ts-invalid", key: { case: "leaseId", value: "not-a-lease" }, httpStatus: 429 })
    .catch((e: unknown) => e);
  assert.ok(bad instanceof ConnectError, String(bad));
  assert.equal(bad.code, Code.InvalidArgument);
  assert.equal(bad.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field, "lease_id");
});

test("an empty pool is POOL_EMPTY", async () => {
  const err = await kb.getRandom("ts-empty").catch((e: unknown) => e);
  assert.equal((err as ConnectError).code, Code.FailedPrecondition);
  assert.equal(reason(err), ErrorReason.POOL_EMPTY);
  assert.equal(reason(new Error("not from the broker")), ErrorReason.UNSPECIFIED);
});

test("5xx are never reported", async () => {
  const [id] = (await kb.add("ts-5xx", ["sk-down-ts-0000000000000006"])).keyIds;
  const resp = await leasedFetch(kb, "ts-5xx")(`${upstream}/v1/chat/completions`);
  assert.equal(resp.status, 503);
  const k = (await keys("ts-5xx")).get(id)!;
  assert.equal(k.state, pb.KeyState.ACTIVE);
  assert.equal(k.failureCount, 0n);
});

test("a refused key is parked and the request sent again with another", async () => {
  const [dead] = (await kb.add("ts-retry", ["sk-dead-ts-0000000000000007"])).keyIds;
  await kb.add("ts-retry", ["sk-good-ts-0000000000000008"]);
  const f = leasedFetch(kb, "ts-retry", { retryOnKeyFailure: true });
  // Whichever key is leased, every answer is a success: the dead key is
  // reported (suspect, no longer leased) and the request sent again.
  for (let i = 0; i < 20 && (await keys("ts-retry")).get(dead)!.state === pb.KeyState.ACTIVE; i++) {
    const resp: Response = await f(`${upstream}/v1/chat/completions`, { method: "POST", body: "{}" });
    assert.equal(resp.status, 200);
  }
  assert.equal((await keys("ts-retry")).get(dead)!.state, pb.KeyState.SUSPECT);
});

test("with no other key, the provider's refusal stands", async () => {
  await kb.add("ts-alone", ["sk-dead-ts-0000000000000017"]);
  const f = leasedFetch(kb, "ts-alone", { retryOnKeyFailure: true });
  const resp = await f(`${upstream}/v1/chat/completions`, { method: "POST", body: "{}" });
  assert.equal(resp.status, 401);
  assert.equal(((await resp.json()) as { error: { code: string } }).error.code, "invalid_api_key");
});

test("a reused lease costs one GetRandom for many requests", async () => {
  await kb.add("ts-reuse", ["sk-good-ts-0000000000000009"]);
  // The broker counts leases in memory, so count the client's calls.
  let leases = 0;
  const counting = {
    getRandom: (pool: string, o?: GetRandomOptions) => (leases++, kb.getRandom(pool, o)),
    reportFailure: kb.reportFailure.bind(kb),
    reportUsage: kb.reportUsage.bind(kb),
  } as unknown as KeyBroker;
  const f = leasedFetch(counting, "ts-reuse", { leaseReuse: { maxUses: 3 } });
  for (let i = 0; i < 6; i++) assert.equal((await f(`${upstream}/v1/models`)).status, 200);
  assert.equal(leases, 2);
});
