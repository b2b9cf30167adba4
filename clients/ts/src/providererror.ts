// What a provider's error body says, in the terms of ReportFailureRequest.
// The broker classifies it; this only reads it (OpenAI and relays,
// Anthropic, Gemini), as the Go client's providererror.go does.

/** ProviderError is the error type, code and message of a refusal. */
export interface ProviderError {
  type: string;
  code: string;
  message: string;
  /** retryDelayMs is Gemini's RetryInfo in the body, 0 when absent. */
  retryDelayMs: number;
}

const MAX_FIELD = 256;
const MAX_MESSAGE = 4096;

/** parseProviderError reads an error body; what it cannot read yields empty fields. */
export function parseProviderError(body: string): ProviderError {
  const out: ProviderError = { type: "", code: "", message: "", retryDelayMs: 0 };
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return out;
  }
  if (Array.isArray(doc)) doc = doc[0]; // Gemini's streaming endpoints
  const err = (doc as { error?: unknown } | null)?.error;
  if (typeof err === "string") {
    out.message = clip(err, MAX_MESSAGE); // relays: {"error": "message"}
    return out;
  }
  if (!err || typeof err !== "object") return out;
  const e = err as Record<string, unknown>;
  out.type = str(e.type) || str(e.status);
  out.code = str(e.code); // a number (Gemini's copy of the status) is left out
  out.message = str(e.message);
  readGoogleDetails(out, Array.isArray(e.details) ? e.details : []);
  out.type = clip(out.type, MAX_FIELD);
  out.code = clip(out.code, MAX_FIELD);
  out.message = clip(out.message, MAX_MESSAGE);
  return out;
}

// readGoogleDetails takes the code from Gemini's details when the body had
// none: a quota id (QuotaFailure violations, ErrorInfo's quota_limit), the
// per-day one if any is named since that is what keeps the key out, before
// an ErrorInfo's reason (API_KEY_INVALID).
function readGoogleDetails(pe: ProviderError, details: unknown[]): void {
  let reason = "";
  const quotaIds: string[] = [];
  for (const raw of details) {
    const d = (raw ?? {}) as Record<string, unknown>;
    const type = str(d["@type"]);
    if (type.endsWith("google.rpc.ErrorInfo")) {
      reason ||= str(d.reason);
      quotaIds.push(str((d.metadata as Record<string, unknown> | undefined)?.quota_limit));
    } else if (type.endsWith("google.rpc.QuotaFailure")) {
      const v = (Array.isArray(d.violations) ? d.violations : []) as Record<string, unknown>[];
      quotaIds.push(...v.map((x) => str(x?.quotaId)));
    } else if (type.endsWith("google.rpc.RetryInfo")) {
      const m = /^(\d+(?:\.\d+)?)s$/.exec(str(d.retryDelay));
      if (m) pe.retryDelayMs = Math.round(parseFloat(m[1]) * 1000);
    }
  }
  pe.code ||= quotaId(quotaIds) || reason;
}

// quotaId picks a per-day quota id if any is named, else the first named.
function quotaId(ids: string[]): string {
  const named = ids.filter((id) => id);
  const daily = named.find((id) => ["perday", "per_day", "per day"].some((w) => id.toLowerCase().includes(w)));
  return daily ?? named[0] ?? "";
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function clip(s: string, n: number): string {
  const b = Buffer.from(s, "utf8");
  if (b.length <= n) return s;
  let end = n;
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString("utf8");
}
