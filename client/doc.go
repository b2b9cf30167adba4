// Package client is the Go client of keybroker.v1.KeyBrokerService.
//
// New returns a Client: a thin typed wrapper over the generated stub with
// the defaults a service wants when the broker is on its hot path — a
// deadline on every call, retries of UNAVAILABLE with backoff (honouring
// the broker's RetryInfo, within bounds), keepalive, and an optional bearer
// token on every call.
//
// Transport is an http.RoundTripper that wraps another one. It leases a key
// from a pool for each request (or reuses a lease, see WithLeaseReuse),
// presents it the way the provider wants (see Auth), and when the provider
// refuses the call it passes what the provider said — status, error body,
// rate-limit headers — to ReportFailure and lets the broker decide what that
// means for the key. Switching a Go service to keybroker is one line:
//
//	httpClient := &http.Client{Transport: client.NewTransport(kb, "openai-main")}
//
// Neither Client nor Transport ever logs or returns a secret in an error.
package client
