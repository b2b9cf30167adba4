package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keybroker/keybroker/internal/config"
)

// File is the policy file (--auth-file):
//
//	tokens:
//	  - name: billing-svc      # what logs and audit entries show
//	    role: client           # client or admin
//	    pools: [openai]        # optional: only these pools
//	    sha256: 9f86d0…        # hex SHA-256 of the token (keybroker hash-token)
//	  - name: ops
//	    role: admin
//	    token_env: KEYBROKER_OPS_TOKEN   # or read the token from this variable
//	certificates:
//	  - name: app-a
//	    role: client
//	    subject_cn: app-a      # or dns_san: …, or uri_san: spiffe://…
type File struct {
	Tokens       []TokenEntry `yaml:"tokens"`
	Certificates []CertEntry  `yaml:"certificates"`
}

// TokenEntry is one bearer token of the policy file.
type TokenEntry struct {
	Name     string   `yaml:"name"`
	Role     string   `yaml:"role"`
	Pools    []string `yaml:"pools"`
	SHA256   string   `yaml:"sha256"`
	TokenEnv string   `yaml:"token_env"`
}

// CertEntry is one client certificate rule of the policy file.
type CertEntry struct {
	Name      string   `yaml:"name"`
	Role      string   `yaml:"role"`
	Pools     []string `yaml:"pools"`
	SubjectCN string   `yaml:"subject_cn"`
	DNSSAN    string   `yaml:"dns_san"`
	URISAN    string   `yaml:"uri_san"`
}

// Env names the shortcut variables for small deployments: each holds one
// or more comma-separated tokens with access to every pool.
const (
	EnvAdminTokens  = "KEYBROKER_ADMIN_TOKEN"
	EnvClientTokens = "KEYBROKER_CLIENT_TOKEN"
)

// MinTokenLen is the shortest token accepted: tokens are bearer secrets and
// must not be guessable.
const MinTokenLen = 16

// Load builds a policy from a policy file (path may be empty) and the
// shortcut variables read through getenv. Errors name the entry, never a
// token.
func Load(path string, getenv func(string) string) (*Policy, error) {
	pol := &Policy{}
	if path != "" {
		if err := loadFile(pol, path, getenv); err != nil {
			return nil, fmt.Errorf("auth file %s: %w", path, err)
		}
	}
	for env, role := range map[string]Role{EnvAdminTokens: RoleAdmin, EnvClientTokens: RoleClient} {
		for i, tok := range splitTokens(getenv(env)) {
			p := Principal{Name: fmt.Sprintf("%s[%d]", strings.ToLower(strings.TrimPrefix(env, "KEYBROKER_")), i), Role: role}
			if err := addPlainToken(pol, p, tok); err != nil {
				return nil, fmt.Errorf("%s: %w", env, err)
			}
		}
	}
	return pol, nil
}

func loadFile(pol *Policy, path string, getenv func(string) string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	for i, t := range f.Tokens {
		if err := addTokenEntry(pol, t, getenv); err != nil {
			return fmt.Errorf("tokens[%d]: %w", i, err)
		}
	}
	for i, c := range f.Certificates {
		if err := addCertEntry(pol, c); err != nil {
			return fmt.Errorf("certificates[%d]: %w", i, err)
		}
	}
	return nil
}

func principal(name, role string, pools []string) (Principal, error) {
	r, err := ParseRole(role)
	if err != nil {
		return Principal{}, fmt.Errorf("%q: %w", name, err)
	}
	if pools != nil && len(pools) == 0 {
		return Principal{}, fmt.Errorf("%q: pools: [] would grant no pool; list pools, or leave pools out for every pool", name)
	}
	for _, p := range pools {
		if !config.ValidPoolName(p) {
			return Principal{}, fmt.Errorf("%q: pool %q is not a valid pool name", name, p)
		}
	}
	return Principal{Name: name, Role: r, Pools: pools}, nil
}

func addTokenEntry(pol *Policy, t TokenEntry, getenv func(string) string) error {
	p, err := principal(t.Name, t.Role, t.Pools)
	if err != nil {
		return err
	}
	switch {
	case t.SHA256 != "" && t.TokenEnv != "":
		return fmt.Errorf("%q: set sha256 or token_env, not both", t.Name)
	case t.SHA256 != "":
		raw, err := hex.DecodeString(t.SHA256)
		if err != nil || len(raw) != sha256.Size {
			return fmt.Errorf("%q: sha256 must be 64 hex characters (keybroker hash-token prints it)", t.Name)
		}
		return pol.AddToken(p, [sha256.Size]byte(raw))
	case t.TokenEnv != "":
		tok := getenv(t.TokenEnv)
		if tok == "" {
			return fmt.Errorf("%q: token_env %s is empty or unset", t.Name, t.TokenEnv)
		}
		return addPlainToken(pol, p, tok)
	}
	return fmt.Errorf("%q: set sha256 or token_env", t.Name)
}

func addPlainToken(pol *Policy, p Principal, tok string) error {
	if len(tok) < MinTokenLen {
		return fmt.Errorf("%q: token is shorter than %d characters", p.Name, MinTokenLen)
	}
	return pol.AddToken(p, sha256.Sum256([]byte(tok)))
}

func addCertEntry(pol *Policy, c CertEntry) error {
	p, err := principal(c.Name, c.Role, c.Pools)
	if err != nil {
		return err
	}
	return pol.AddCert(CertRule{Principal: p, CN: c.SubjectCN, DNSSAN: c.DNSSAN, URISAN: c.URISAN})
}

func splitTokens(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
