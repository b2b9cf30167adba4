// Tests with fake brokers, no real one needed: the usage reporter's
// queue and batches, failed batches counted, a reused lease's uses window,
// and the NO_BUDGET retry bounded by the call's own deadline. The fakes
// are plain objects standing in for KeyBroker (usage, lease reuse) and, for
// the retry, an in-process gRPC server answering GetRandom. clients_test.go
// runs this file (TestTypeScriptClientUnits); `npm test` runs it too.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Code, ConnectError, KeyBroker, LeaseError, ErrorReason, leasedFetch, pb, reason } from "../src/index";
import { UsageReporter } from "../src/usage";
import { ErrorInfoSchema, RetryInfoSchema } from "../src/gen/google/rpc/error_details_pb";

type ReportUsageRequest = { pool: string; usages: unknown[] };

// fakeUsageBroker records ReportUsage batches; while held, each call
// waits until release() (so that the queue can be filled behind a batch
// in flight); failing makes every call reject.
function fakeUsageBroker(opts: { hold?: boolean; fail?: boolean } = {}) {
  const batches: number[] = [];
  let release: () => void = () => {};
  let held = new Promise<void>((r) => (release = r));
  if (!opts.hold) release();
  const kb = {
    reportUsage: async (req: ReportUsageRequest) => {
      batches.push(req.usages.length);
      await held;
      if (opts.fail) throw new ConnectError("broker says no", Code.Unavailable);
      return {};
    },
  };
  return {
    kb: kb as unknown as KeyBroker,
    batches,
    release: () => release(),
  };
}

const usage = (i: number) => ({ leaseId: `lease-${i}`, requests: { limit: 100n, remaining: 50n } });

test("a queue of 1200 observations leaves in 3 batches of at most 500", async () => {
  const fake = fakeUsageBroker();
  const r = new UsageReporter(fake.kb, "p");
  for (let i = 0; i < 1200; i++) r.add(usage(i));
  await r.flush();
  assert.deepEqual(fake.batches, [500, 500, 200]);
  assert.deepEqual(r.stats(), { sent: 1200, dropped: 0, failed: 0 });
});

test("an observation that finds the queue full is dropped and counted", async () => {
  const fake = fakeUsageBroker({ hold: true });
  const r = new UsageReporter(fake.kb, "p");
  // The first 500 leave at once and wait on the broker; the next 4096
  // fill the queue; the 10 after them find it full.
  for (let i = 0; i < 500 + 4096 + 10; i++) r.add(usage(i));
  assert.deepEqual(fake.batches, [500]);
  assert.deepEqual(r.stats(), { sent: 0, dropped: 10, failed: 0 });
  fake.release();
  await r.flush();
  assert.ok(
    fake.batches.every((n) => n <= 500),
    `batches ${fake.batches}`,
  );
  assert.equal(
    fake.batches.reduce((a, b) => a + b, 0),
    4596,
  );
  assert.deepEqual(r.stats(), { sent: 4596, dropped: 10, failed: 0 });
  // Closed, it drops (and counts) what comes later.
  await r.close();
  r.add(usage(0));
  assert.equal(r.stats().dropped, 11);
});

test("failed usage batches are counted and passed to onReportError", async () => {
  const fake = fakeUsageBroker({ fail: true });
  const errors: [unknown, string][] = [];
  // Through leasedFetch: a fake broker leases a key, a fake provider
  // answers with rate-limit headers, the reports fail.
  const kb = Object.assign(fake.kb, {
    getRandom: async () => ({ secret: "sk-secret-never-reported", keyId: "key-1", lease: { leaseId: "lease-1", uses: 0 } }),
  }) as unknown as KeyBroker;
  const provider = async () =>
    new Response("{}", { status: 200, headers: { "x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "99" } });
  const f = leasedFetch(kb, "p", { fetch: provider as typeof fetch, onReportError: (err, keyId) => errors.push([err, keyId]) });
  for (let i = 0; i < 3; i++) assert.equal((await f("http://provider.invalid/v1/models")).status, 200);
  await f.flush();
  assert.deepEqual(fake.batches, [3]);
  assert.deepEqual(f.usageStats(), { sent: 0, dropped: 0, failed: 3 });
  assert.equal(errors.length, 1);
  assert.equal(errors[0][1], "", "a usage batch has no key id");
  assert.ok(!String(errors[0][0]).includes("sk-secret"), "the report error carries no secret");
  await f.close();
});

// A reused lease is good for uses_valid_for from when GetRandom was sent.
function fakeLeaseBroker(validMs: number, answerAfterMs = 0) {
  let leases = 0;
  const kb = {
    getRandom: async () => {
      leases++;
      if (answerAfterMs > 0) await new Promise((r) => setTimeout(r, answerAfterMs));
      return {
        secret: `sk-reuse-${leases}`,
        keyId: "key-1",
        lease: {
          leaseId: `lease-${leases}`,
          expireTime: { seconds: BigInt(Math.floor(Date.now() / 1000) + 600), nanos: 0 },
          uses: 10,
          usesValidFor: { seconds: 0n, nanos: validMs * 1e6 },
        },
      };
    },
    reportFailure: async () => ({}),
    reportUsage: async () => ({}),
  };
  return { kb: kb as unknown as KeyBroker, leases: () => leases };
}

const ok = (async () => new Response("{}", { status: 200 })) as typeof fetch;

test("a reused lease is not used after its uses_valid_for", async () => {
  // A window long enough that a stalled machine still reuses within it.
  const fake = fakeLeaseBroker(1000);
  const f = leasedFetch(fake.kb, "p", { fetch: ok, leaseReuse: {}, usageReports: false });
  await f("http://provider.invalid/");
  await f("http://provider.invalid/");
  assert.equal(fake.leases(), 1, "within its window the lease is reused");
  await new Promise((r) => setTimeout(r, 1100));
  await f("http://provider.invalid/");
  assert.equal(fake.leases(), 2, "after its window a request leases again");
});

test("a reused lease's uses_valid_for counts from when GetRandom was sent", async () => {
  // The broker answers after 60ms a grant valid for 50ms from the request:
  // it has lapsed by the time the next request comes.
  const fake = fakeLeaseBroker(50, 60);
  const f = leasedFetch(fake.kb, "p", { fetch: ok, leaseReuse: {}, usageReports: false });
  await f("http://provider.invalid/");
  await f("http://provider.invalid/");
  assert.equal(fake.leases(), 2);
});

// A fake broker over gRPC whose GetRandom refuses with NO_BUDGET and a
// RetryInfo of retryMs the first `refusals` times, then grants; it records
// each attempt's deadline as the client sent it (grpc-timeout).
async function noBudgetBroker(retryMs: number, refusals = Infinity) {
  const deadlines: (number | undefined)[] = [];
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(pb.KeyBrokerService, {
        getRandom: async (_req, ctx) => {
          deadlines.push(ctx.timeoutMs());
          if (deadlines.length <= refusals) {
            throw new ConnectError("every key spent its budget", Code.ResourceExhausted, undefined, [
              { desc: ErrorInfoSchema, value: { domain: "keybroker", reason: "NO_BUDGET" } },
              { desc: RetryInfoSchema, value: { retryDelay: { seconds: BigInt(Math.floor(retryMs / 1000)), nanos: (retryMs % 1000) * 1e6 } } },
            ]);
          }
          return { secret: "sk-granted", keyId: "key-1", lease: { leaseId: "lease-1" } };
        },
      }),
  });
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    address: `http://127.0.0.1:${port}`,
    deadlines,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sessions) s.destroy(); // the client keeps its connection open
      }),
  };
}

async function refused(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail("leased from a broker that refuses"),
    (e: unknown) => e,
  );
}

test("NO_BUDGET is not retried past a call's own timeoutMs", async (t) => {
  const b = await noBudgetBroker(800);
  t.after(b.close);
  const kb = new KeyBroker({ address: b.address }); // 5s by default
  const started = Date.now();
  const err = await refused(kb.getRandom("p", { timeoutMs: 300 }));
  const took = Date.now() - started;
  // The 800ms wait outlasts the call's 300ms: the refusal comes at once,
  // with its reason, rather than a DEADLINE_EXCEEDED after 300ms.
  assert.equal(reason(err), ErrorReason.NO_BUDGET, String(err));
  assert.equal(b.deadlines.length, 1);
  assert.ok(took < 200, `refused after ${took}ms`);
});

test("NO_BUDGET is not retried past a call's AbortSignal", async (t) => {
  const b = await noBudgetBroker(800);
  t.after(b.close);
  const kb = new KeyBroker({ address: b.address });
  const started = Date.now();
  const err = await refused(kb.getRandom("p", { signal: AbortSignal.timeout(300) }));
  const took = Date.now() - started;
  assert.ok(err instanceof ConnectError, String(err));
  assert.equal(b.deadlines.length, 1);
  assert.ok(took < 700, `gave up after ${took}ms, want at the signal's 300ms`);

  // leasedFetch passes the request's signal (an SDK's timeout) to the lease.
  const f = leasedFetch(kb, "p", { fetch: ok });
  const started2 = Date.now();
  const lerr = await refused(f("http://provider.invalid/", { signal: AbortSignal.timeout(300) }));
  assert.ok(lerr instanceof LeaseError, String(lerr));
  assert.equal(b.deadlines.length, 2);
  assert.ok(Date.now() - started2 < 700, `leasedFetch gave up after ${Date.now() - started2}ms`);
});

test("a call's timeoutMs longer than the KeyBroker's allows the NO_BUDGET wait", async (t) => {
  const b = await noBudgetBroker(400, 2);
  t.after(b.close);
  const kb = new KeyBroker({ address: b.address, timeoutMs: 300 });
  // The KeyBroker's own 300ms does not wait 400ms...
  assert.equal(reason(await refused(kb.getRandom("p"))), ErrorReason.NO_BUDGET);
  assert.equal(b.deadlines.length, 1);
  // ...a call given 3s does, and its retry carries the time left.
  const r = await kb.getRandom("p", { timeoutMs: 3000 });
  assert.equal(r.keyId, "key-1");
  assert.equal(b.deadlines.length, 3);
  const [, first, retry] = b.deadlines as number[];
  assert.ok(first > 2500 && first <= 3000, `the call asked for ${first}ms`);
  assert.ok(retry <= first - 350, `the retry asked for ${retry}ms, want what is left of ${first}ms after a 400ms wait`);
});
