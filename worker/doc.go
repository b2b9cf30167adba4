// Package worker will hold the validation worker: validators that check
// keys against a provider's billing endpoints or a cheap probe (billing,
// openai, anthropic, gemini), and the scheduler that runs them with bounded
// concurrency, timeouts and jitter, claiming work in Redis so each key is
// checked once per interval across replicas. It classifies what it sees
// with package failure, like ReportFailure, and moves keys through package
// store. Nothing lives here yet.
package worker
