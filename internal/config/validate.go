package config

import (
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keybroker/keybroker/failure"
)

// validate checks the decoded configuration, using the tree only to find
// the line of each value.
//
// Each layer's own values are checked where they are written. Rules that
// tie two fields together are checked on the merged result, and reported by
// the layer that sets one of the fields: a pool that inherits a bad
// combination from defaults is not blamed for it again.
func validate(r *report, root *yaml.Node, c *Config) {
	checkLayer(r, "defaults", field(root, "defaults"), c.Defaults, Pool{})

	pools := field(root, "pools")
	for _, name := range c.PoolNames() {
		key, val := entry(pools, name)
		if !ValidPoolName(name) {
			r.at(firstNode(key, pools), "pools", "invalid pool name %q: want 1 to 64 characters of [A-Za-z0-9._-], starting with a letter or digit", name)
		}
		if val == nil {
			val = key // a null pool: all defaults, but keep its line
		}
		checkLayer(r, "pools."+name, val, c.Pools[name], c.Defaults)
	}
}

// checkLayer checks one layer p (the defaults or one pool) as written at
// node n, with under being the layer below it (zero for the defaults).
func checkLayer(r *report, path string, n *yaml.Node, p Pool, under Pool) {
	// at reports a problem with key, at its line if the key is written
	// here, else at the layer's line (values that came through a YAML merge).
	at := func(key string, v *yaml.Node, format string, args ...any) {
		r.at(firstNode(v, n), path+"."+key, format, args...)
	}

	// A written zero is an error, not a silent "inherit": leave the key out
	// (or write nothing after it) to inherit.
	providerNode := field(n, "provider")
	if providerNode != nil || p.Provider != "" {
		if _, err := failure.ParseProvider(string(p.Provider)); err != nil {
			at("provider", providerNode, "%v", err)
		}
	}
	baseNode := field(n, "base_url")
	if baseNode != nil || p.BaseURL != "" {
		if msg := checkBaseURL(p.BaseURL); msg != "" {
			at("base_url", baseNode, "%s", msg)
		}
	}
	selNode := field(n, "selection")
	if selNode != nil || p.Selection != "" {
		if _, err := ParseSelection(string(p.Selection)); err != nil {
			at("selection", selNode, "%v", err)
		}
	}
	defNode := field(n, "cooldown_default")
	if (defNode != nil || p.CooldownDefault != 0) && p.CooldownDefault <= 0 {
		at("cooldown_default", defNode, "must be greater than 0, got %s", p.CooldownDefault)
	}
	maxNode := field(n, "cooldown_max")
	if (maxNode != nil || p.CooldownMax != 0) && p.CooldownMax <= 0 {
		at("cooldown_max", maxNode, "must be greater than 0, got %s", p.CooldownMax)
	}
	if auditNode := field(n, "audit_length"); auditNode != nil && (p.AuditLength < minAuditLength || p.AuditLength > maxAuditLength) {
		at("audit_length", auditNode, "must be between %d and %d, got %d", minAuditLength, maxAuditLength, p.AuditLength)
	}
	leaseNode := field(n, "lease_ttl")
	if (leaseNode != nil || p.LeaseTTL != 0) && (p.LeaseTTL < minLeaseTTL || p.LeaseTTL > maxLeaseTTL) {
		at("lease_ttl", leaseNode, "must be between %s and %s, got %s", minLeaseTTL, maxLeaseTTL, p.LeaseTTL)
	}
	if minNode := field(n, "min_keys"); p.MinKeys != nil && *p.MinKeys < 0 {
		at("min_keys", minNode, "must be 0 or more, got %d", *p.MinKeys)
	}
	authNode := field(n, "auth_header")
	if (authNode != nil || p.AuthHeader != "") && !validAuthHeader(p.AuthHeader) {
		at("auth_header", authNode, "%q: want one of %s", p.AuthHeader, strings.Join(authHeaders(), ", "))
	}
	classifyNode := field(n, "classify")
	for i, c := range p.Classify {
		if _, err := c.rule(); err != nil {
			at(fmt.Sprintf("classify[%d]", i), itemNode(classifyNode, i), "%v", err)
		}
	}
	checkSafety(r, path, n, p)
	validatorNode := field(n, "validator")
	checkValidator(r, path+".validator", firstNode(validatorNode, n), validatorNode != nil, p.Validator)
	checkLimits(r, path, n, p)

	// Rules across fields, on the merged values (before the provider's
	// BaseURL default, which is what the second rule is about).
	eff := merge(p, merge(under, builtin()))

	if (p.CooldownDefault != 0 || p.CooldownMax != 0) && !r.isBroken(defNode, maxNode) &&
		eff.CooldownDefault > 0 && eff.CooldownMax > 0 && eff.CooldownMax < eff.CooldownDefault {
		if p.CooldownMax != 0 {
			at("cooldown_max", maxNode, "must be at least cooldown_default (%s)", eff.CooldownDefault)
		} else {
			at("cooldown_default", defNode, "must be at most cooldown_max (%s)", eff.CooldownMax)
		}
	}

	checkKindFitsProvider(r, path, n, p, eff)

	if p.Provider != "" && baseNode == nil && !r.isBroken(providerNode) &&
		eff.Provider == failure.OpenAICompatible && eff.BaseURL == "" {
		at("base_url", providerNode, "required for provider %s, which has no default base_url", eff.Provider)
	}
}

// checkBaseURL returns what is wrong with s as a base URL, or "".
func checkBaseURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Sprintf("invalid URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Sprintf("%q must be an absolute http or https URL", s)
	case u.User != nil:
		return fmt.Sprintf("%q must not carry credentials: keys come from the pool", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Sprintf("%q must not have a query", s)
	case u.Fragment != "" || strings.HasSuffix(s, "#"):
		return fmt.Sprintf("%q must not have a fragment", s)
	}
	return ""
}

// field returns the value under key in the mapping n, or nil when n is not
// a mapping, lacks key, or the value is null (null means "not set", as it
// does to the decoder).
func field(n *yaml.Node, key string) *yaml.Node {
	_, v := entry(n, key)
	if v == nil || v.ShortTag() == "!!null" {
		return nil
	}
	return v
}

// entry returns the key and value nodes for key in the mapping n, following
// aliases, or nils.
func entry(n *yaml.Node, key string) (k, v *yaml.Node) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], deref(n.Content[i+1])
		}
	}
	return nil, nil
}

// deref follows aliases to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// firstNode returns the first non-nil node, for "this field's line, else
// the enclosing one".
func firstNode(nodes ...*yaml.Node) *yaml.Node {
	for _, n := range nodes {
		if n != nil {
			return n
		}
	}
	return nil
}

// itemNode is the i-th element of a sequence node, or nil.
func itemNode(seq *yaml.Node, i int) *yaml.Node {
	seq = deref(seq)
	if seq == nil || seq.Kind != yaml.SequenceNode || i >= len(seq.Content) {
		return nil
	}
	return seq.Content[i]
}
