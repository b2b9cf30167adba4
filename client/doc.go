// Package client will hold the Go client of KeyBrokerService: a typed
// wrapper over the generated stub with sane deadlines and retries, and an
// http.RoundTripper that leases a key per request, sets the provider's auth
// header and reports refusals. Until then, use the generated stub in
// gen/keybroker/v1. Nothing lives here yet.
package client
