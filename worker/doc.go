// Package worker is keybroker's validation worker: it keeps every pool
// honest without anyone watching. For each pool whose policy names a
// validator it checks keys against the provider (billing endpoints of an
// OpenAI-compatible relay, or a cheap probe of OpenAI, Anthropic or
// Gemini), classifies what it sees with package failure, exactly as
// ReportFailure does, and moves keys through package store:
//
//   - suspect keys (a caller said "invalid") are verified within a poll
//     (about 250ms): valid → active, invalid → removed;
//   - active keys are checked every interval, disabled keys every
//     disabled_interval, and move by the result;
//   - a check that times out, cannot connect, or gets a 5xx or garbage
//     changes nothing; it is counted and logged by key id and retried.
//
// Work is claimed in Redis with expiring claims (store.Claim), so several
// replicas check each key once per interval and a crashed replica's keys
// are picked up when its claims lapse; there is no leader. Checks run with
// bounded concurrency per pool and overall, a per-request timeout, jitter
// and a per-pool upstream rate limit.
//
// Secrets never reach a log, an error or a metric: upstream errors are
// scrubbed of the secret (Gemini carries it in the URL) before anyone sees
// them, and provider messages are used for classification only.
package worker
