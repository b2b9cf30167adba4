package client

import "context"

// bearerToken is per-RPC credentials carrying a static token. It is
// allowed over plaintext on purpose: a broker is most often a sidecar on
// loopback or a unix socket; WithBearerToken says so.
type bearerToken string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (bearerToken) RequireTransportSecurity() bool { return false }
