package main

import (
	"fmt"
	"log/slog"

	"github.com/keybroker/keybroker/internal/auth"
	"github.com/keybroker/keybroker/internal/seal"
	"github.com/keybroker/keybroker/internal/tlsreload"
)

// envEncryptionKeys holds data keys inline, as an alternative to
// --encryption-key-file (for secret managers that inject variables).
const envEncryptionKeys = "KEYBROKER_ENCRYPTION_KEYS"

// security is everything serve needs to protect keys and callers.
type security struct {
	ring   *seal.Keyring    // nil: secrets unencrypted at rest
	auth   *auth.Live       // follows --auth-file
	policy *auth.Policy     // the policy at start; disabled: no authentication
	tls    *tlsreload.Files // nil: plaintext transport
	noAuth bool
}

// loadSecurity reads keys, credentials and certificates, and checks that
// they make sense together before anything listens.
func loadSecurity(f *serveFlags, getenv func(string) string) (*security, error) {
	ring, err := loadKeyring(f.encryptionKeyFile, getenv)
	if err != nil {
		return nil, err
	}
	if f.tlsClientCA != "" && f.tlsCert == "" {
		return nil, fmt.Errorf("--tls-client-ca needs --tls-cert and --tls-key: mTLS runs over TLS")
	}
	live, err := auth.NewLive(f.authFile, getenv, func(p *auth.Policy) error {
		if p.HasCertRules() && f.tlsClientCA == "" {
			return fmt.Errorf("--auth-file has certificate rules but no --tls-client-ca to verify client certificates")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pol := live.Current()
	sec := &security{ring: ring, auth: live, policy: pol, noAuth: !pol.Enabled()}
	if f.tlsCert != "" || f.tlsKey != "" {
		if sec.tls, err = tlsreload.Load(f.tlsCert, f.tlsKey, f.tlsClientCA); err != nil {
			return nil, err
		}
	}
	if err := checkExposure(f.listen, pol.Enabled(), f.insecure); err != nil {
		return nil, err
	}
	return sec, nil
}

// loadKeyring reads the data keys from a file or the environment; neither
// means secrets are stored as they are.
func loadKeyring(path string, getenv func(string) string) (*seal.Keyring, error) {
	inline := getenv(envEncryptionKeys)
	switch {
	case path != "" && inline != "":
		return nil, fmt.Errorf("give data keys in --encryption-key-file or $%s, not both", envEncryptionKeys)
	case path != "":
		return seal.LoadKeys(path)
	case inline != "":
		ring, err := seal.ParseKeys(inline)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", envEncryptionKeys, err)
		}
		return ring, nil
	}
	return nil, nil
}

// warn says loudly what is unprotected.
func (s *security) warn(log *slog.Logger, realRedis bool) {
	if s.ring == nil && realRedis {
		log.Warn("secrets are stored in Redis UNENCRYPTED; set --encryption-key-file (keybroker genkey) for encryption at rest")
	}
	if s.noAuth {
		log.Warn("authentication is OFF: every caller that reaches the listener may lease, reveal and remove keys; set --auth-file or $KEYBROKER_ADMIN_TOKEN")
	}
}
