package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"net/url"
	"slices"
)

// Policy maps credentials to principals. The zero Policy authenticates
// nobody and reports itself disabled.
type Policy struct {
	tokens []tokenRule
	certs  []CertRule
	names  map[string]bool
}

type tokenRule struct {
	hash [sha256.Size]byte
	p    Principal
}

// CertRule maps a verified client certificate to a principal. Exactly one
// matcher is set; it is compared with the leaf certificate.
type CertRule struct {
	Principal Principal
	CN        string // Subject common name
	DNSSAN    string // a DNS subject alternative name
	URISAN    string // a URI SAN, e.g. a SPIFFE id
}

// Enabled reports whether any credential is configured. A broker with no
// credentials runs without authentication (and then only on loopback or a
// unix socket, unless told --insecure).
func (pol *Policy) Enabled() bool { return len(pol.tokens)+len(pol.certs) > 0 }

// HasCertRules reports whether client certificates can authenticate.
func (pol *Policy) HasCertRules() bool { return len(pol.certs) > 0 }

// AddToken registers a token by its SHA-256 hash; the token itself is not
// kept.
func (pol *Policy) AddToken(p Principal, tokenHash [sha256.Size]byte) error {
	if err := pol.claim(p); err != nil {
		return err
	}
	p.Via = "token"
	pol.tokens = append(pol.tokens, tokenRule{hash: tokenHash, p: p})
	return nil
}

// AddCert registers a certificate rule.
func (pol *Policy) AddCert(r CertRule) error {
	set := 0
	for _, m := range []string{r.CN, r.DNSSAN, r.URISAN} {
		if m != "" {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("certificate rule %q: set exactly one of subject_cn, dns_san, uri_san", r.Principal.Name)
	}
	if err := pol.claim(r.Principal); err != nil {
		return err
	}
	r.Principal.Via = "certificate"
	pol.certs = append(pol.certs, r)
	return nil
}

func (pol *Policy) claim(p Principal) error {
	if p.Name == "" {
		return fmt.Errorf("a credential needs a name (it is what logs show)")
	}
	if p.Role == RoleNone {
		return fmt.Errorf("credential %q: role must be client or admin", p.Name)
	}
	if pol.names == nil {
		pol.names = map[string]bool{}
	}
	if pol.names[p.Name] {
		return fmt.Errorf("credential name %q is used twice", p.Name)
	}
	pol.names[p.Name] = true
	return nil
}

// ByToken returns the principal of a bearer token. It hashes the token and
// compares the hash with every registered one in constant time, so neither
// timing nor early exit tells a guesser how close it came or which entry
// matched.
func (pol *Policy) ByToken(token string) (Principal, bool) {
	h := sha256.Sum256([]byte(token))
	var found Principal
	match := 0
	for _, t := range pol.tokens {
		eq := subtle.ConstantTimeCompare(h[:], t.hash[:])
		if eq == 1 && match == 0 {
			found = t.p
		}
		match |= eq
	}
	return found, match == 1
}

// ByCert returns the principal of a verified client certificate.
func (pol *Policy) ByCert(leaf *x509.Certificate) (Principal, bool) {
	for _, r := range pol.certs {
		switch {
		case r.CN != "" && leaf.Subject.CommonName == r.CN,
			r.DNSSAN != "" && slices.Contains(leaf.DNSNames, r.DNSSAN),
			r.URISAN != "" && slices.ContainsFunc(leaf.URIs, func(u *url.URL) bool { return u.String() == r.URISAN }):
			return r.Principal, true
		}
	}
	return Principal{}, false
}
