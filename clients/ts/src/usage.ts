// Usage reporting: leasedFetch reads the rate-limit headers of every
// provider answer, successes included, and sends them to the broker in
// batches (ReportUsage), so that the broker leases keys by the budget they
// have left. A request never waits for it: an observation that finds the
// queue full is dropped and counted. The same limits as the Go client's.
import type { KeyBroker } from "./broker";
import { type RateLimitWindow, readRateLimits } from "./ratelimit";

const QUEUE = 4096; // observations waiting to be sent
const BATCH = 500; // observations per ReportUsage
const FLUSH_MS = 100; // longest an observation waits for company

interface Duration {
  seconds: bigint;
  nanos: number;
}

interface WindowInit {
  limit?: bigint;
  remaining?: bigint;
  resetAfter?: Duration;
}

/** Usage is one observation as ReportUsage carries it, before its age is known. */
interface Usage {
  leaseId: string;
  requests?: WindowInit;
  tokens?: WindowInit;
}

/**
 * UsageStats says how usage reporting went, in observations: sent (the
 * broker took their batch), dropped (the queue was full, or the reporter
 * closed) and failed (their batch's ReportUsage failed; the error went to
 * onReportError).
 */
export interface UsageStats {
  sent: number;
  dropped: number;
  failed: number;
}

/** usageOf reads what an answer's headers say about the key's windows; undefined when they say nothing. */
export function usageOf(h: Headers, leaseId: string, now = Date.now()): Usage | undefined {
  const rl = readRateLimits(h, now);
  if (!rl.requests && !rl.tokens) return undefined;
  return { leaseId, requests: windowMessage(rl.requests), tokens: windowMessage(rl.tokens) };
}

function windowMessage(w: RateLimitWindow | undefined): WindowInit | undefined {
  if (!w) return undefined;
  return { limit: w.limit, remaining: w.remaining, resetAfter: w.resetMs > 0 ? durationOf(w.resetMs) : undefined };
}

/** durationOf converts milliseconds to a google.protobuf.Duration. */
export function durationOf(ms: number): Duration {
  const whole = Math.floor(ms / 1000);
  return { seconds: BigInt(whole), nanos: Math.min(Math.round((ms - whole * 1000) * 1e6), 999_999_999) };
}

interface Observed {
  usage: Usage;
  at: number;
}

/**
 * UsageReporter batches one pool's observations and sends them in the
 * background: a batch leaves 100 ms after its first observation or when
 * it holds 500, one ReportUsage at a time. Its timers are unref'd, so it
 * never keeps a Node.js process alive; flush (or close) sends what is
 * queued, which a process that wants its last reports sent awaits before
 * it exits.
 */
export class UsageReporter {
  private queue: Observed[] = [];
  private timer?: ReturnType<typeof setTimeout>;
  private inflight?: Promise<void>;
  private closed = false;
  private sent = 0;
  private dropped = 0;
  private failed = 0;

  constructor(
    private readonly kb: KeyBroker,
    private readonly pool: string,
    private readonly onError?: (err: unknown) => void,
  ) {}

  /** add queues an observation without ever waiting; a full queue (or a closed reporter) drops it. */
  add(usage: Usage, at = Date.now()): void {
    if (this.closed || this.queue.length >= QUEUE) {
      this.dropped++;
      return;
    }
    this.queue.push({ usage, at });
    this.schedule();
  }

  /** stats says how reporting went so far. */
  stats(): UsageStats {
    return { sent: this.sent, dropped: this.dropped, failed: this.failed };
  }

  /** flush sends everything queued now and resolves when the broker has answered (or failed to). */
  async flush(): Promise<void> {
    this.cancelTimer();
    while (this.inflight || this.queue.length > 0) {
      await (this.inflight ?? this.sendBatch());
    }
  }

  /** close flushes and drops (counting them) observations added afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  // schedule arranges the next send: at once for a full batch, else after
  // FLUSH_MS; while a batch is in flight, its end reschedules.
  private schedule(): void {
    if (this.inflight || this.queue.length === 0) return;
    if (this.queue.length >= BATCH) {
      this.cancelTimer();
      void this.sendBatch();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sendBatch();
    }, FLUSH_MS);
    this.timer.unref?.();
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private sendBatch(): Promise<void> {
    if (this.inflight) return this.inflight;
    const batch = this.queue.splice(0, BATCH);
    if (batch.length === 0) return Promise.resolve();
    this.inflight = this.send(batch).finally(() => {
      this.inflight = undefined;
      this.schedule();
    });
    return this.inflight;
  }

  private async send(batch: Observed[]): Promise<void> {
    const now = Date.now();
    const usages = batch.map((o) => ({ ...o.usage, age: durationOf(Math.max(now - o.at, 0)) }));
    try {
      await this.kb.reportUsage({ pool: this.pool, usages });
      this.sent += batch.length;
    } catch (err) {
      this.failed += batch.length;
      this.onError?.(err);
    }
  }
}
