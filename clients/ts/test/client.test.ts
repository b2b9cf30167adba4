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
  connectError,
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

// Budgets (docs/budgets.md). clients_test.go declares ts-budget (3 calls a
// minute), ts-budget-short (1 call per 1s window) and ts-budget-tokens
// (1000 tokens a minute); other pools learn their limits from the usage
// the clients report.

const refusing = new KeyBroker({ address: `http://${addr}`, retry: { maxAttempts: 1, initialBackoffMs: 50, maxBackoffMs: 1000 } });

async function refusedLease(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail("leased beyond the pool's budget"),
    (e: unknown) => e,
  );
}

test("usage reports teach the broker a key's limits", async () => {
  const [id] = (await kb.add("ts-learn", ["sk-rl-ts-0000000000000020"])).keyIds;
  const [off] = (await kb.add("ts-learn-off", ["sk-rl-ts-0000000000000021"])).keyIds;
  const f = leasedFetch(kb, "ts-learn");
  const quiet = leasedFetch(kb, "ts-learn-off", { usageReports: false });
  assert.equal((await f(`${upstream}/v1/chat/completions`, { method: "POST", body: "{}" })).status, 200);
  assert.equal((await quiet(`${upstream}/v1/chat/completions`, { method: "POST", body: "{}" })).status, 200);
  await f.flush();
  await quiet.flush();
  assert.deepEqual(f.usageStats(), { sent: 1, dropped: 0, failed: 0 });
  assert.deepEqual(quiet.usageStats(), { sent: 0, dropped: 0, failed: 0 });

  // The broker learned the limits the provider's headers stated (its
  // replicas load learned limits in the background: give it a few seconds).
  let budget = (await keys("ts-learn")).get(id)!.budget;
  for (let i = 0; i < 50 && !budget; i++) {
    await new Promise((r) => setTimeout(r, 100));
    budget = (await keys("ts-learn")).get(id)!.budget;
  }
  assert.equal(budget?.source, "learned");
  assert.equal(budget?.requestsLimit, 1000n);
  assert.equal(budget?.tokensLimit, 50000n);
  assert.equal((await keys("ts-learn-off")).get(off)!.budget, undefined, "a pool without reports learned nothing");
  await f.close();
});

test("a burst beyond the budget is refused with NO_BUDGET and a retry delay", async () => {
  await kb.add("ts-budget", ["sk-good-ts-0000000000000022"]);
  const f = leasedFetch(refusing, "ts-budget");
  let err: unknown;
  for (let i = 0; i < 10 && !err; i++) {
    err = await f(`${upstream}/v1/models`).then(
      () => undefined,
      (e: unknown) => e,
    );
  }
  assert.ok(err instanceof LeaseError, `no refusal in 10 calls on a pool of 3 a minute: ${err}`);
  assert.equal(connectError(err)?.code, Code.ResourceExhausted);
  assert.equal(reason(err), ErrorReason.NO_BUDGET);
  const delay = retryDelayMs(err);
  assert.ok(delay > 0 && delay <= 60_000, `retry delay ${delay}ms, want within the minute`);

  // The default policy does not wait that long (unless the minute is about
  // to end): it returns the refusal at once.
  const started = Date.now();
  const again = await refusedLease(kb.getRandom("ts-budget"));
  if (retryDelayMs(again) > 1000) assert.ok(Date.now() - started < 500, "waited for a RetryInfo beyond maxBackoffMs");
  assert.equal(reason(again), ErrorReason.NO_BUDGET);
});

test("NO_BUDGET is retried after its RetryInfo when that is short", async () => {
  await kb.add("ts-budget-short", ["sk-good-ts-0000000000000023"]);
  // One call per 1s window: without retries, back-to-back leases are refused.
  await refusing.getRandom("ts-budget-short").catch(() => {});
  const refused = await refusedLease(refusing.getRandom("ts-budget-short"));
  assert.equal(reason(refused), ErrorReason.NO_BUDGET);
  assert.ok(retryDelayMs(refused) <= 1000, `retry delay ${retryDelayMs(refused)}ms, want within the 1s window`);
  // The default client waits each refusal's RetryInfo, so three leases in
  // a row all succeed, the last two in later windows.
  const started = Date.now();
  for (let i = 0; i < 3; i++) await kb.getRandom("ts-budget-short");
  assert.ok(Date.now() - started >= 900, `three leases of a 1-per-second pool in ${Date.now() - started}ms`);
});

test("estimated tokens are reserved from the key's token budget", async () => {
  await kb.add("ts-budget-tokens", ["sk-good-ts-0000000000000024"]);
  const big = leasedFetch(refusing, "ts-budget-tokens", { estimateTokens: () => 5000 });
  const small = leasedFetch(refusing, "ts-budget-tokens", { estimateTokens: (_input, init) => (init?.method === "POST" ? 10 : undefined) });
  const err = await refusedLease(big(`${upstream}/v1/chat/completions`, { method: "POST", body: "{}" }));
  assert.equal(reason(err), ErrorReason.NO_BUDGET, "a call estimated beyond the key's 1000 tokens a minute");
  assert.equal((await small(`${upstream}/v1/chat/completions`, { method: "POST", body: "{}" })).status, 200);
});

test("a reused lease serves no more calls than the broker granted", async () => {
  await kb.add("ts-budget-uses", ["sk-good-ts-0000000000000025"]);
  const asked: (GetRandomOptions | undefined)[] = [];
  const granted: number[] = [];
  const counting = {
    getRandom: async (pool: string, o?: GetRandomOptions) => {
      asked.push(o);
      const r = await refusing.getRandom(pool, o);
      granted.push(r.lease?.uses ?? 0);
      return r;
    },
    reportFailure: kb.reportFailure.bind(kb),
    reportUsage: kb.reportUsage.bind(kb),
  } as unknown as KeyBroker;
  const f = leasedFetch(counting, "ts-budget-uses", { leaseReuse: {} });
  // Calls until the fetch asks for a second lease (or is refused one).
  let served = 0;
  for (let i = 0; i < 6 && asked.length <= 1; i++) {
    const resp: unknown = await f(`${upstream}/v1/models`).catch((e: unknown) => e);
    if (asked.length === 1) {
      assert.equal((resp as Response).status, 200);
      served++;
    }
  }
  assert.equal(asked[0]?.uses, 32, "a reusing fetch asks for 32 uses");
  assert.ok(granted[0] >= 1 && granted[0] <= 3, `granted ${granted[0]} uses of a 3-a-minute key`);
  assert.equal(served, granted[0], "the lease served exactly the uses the broker granted");
});
