// Package clients holds keybroker's non-Go clients: clients/ts (Node.js
// and TypeScript) and clients/python. It has no Go code of its own; its
// test runs each client's test suite against a real broker over a real
// redis-server and a fake provider, so that go test ./... covers them.
package clients
