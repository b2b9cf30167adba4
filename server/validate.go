package server

import (
	"fmt"
	"unicode/utf8"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/secret"
)

// Request limits. They keep one call from holding Redis or memory for long;
// larger jobs are split by the caller (the CLI does it for imports).
const (
	maxSecretsPerCall = 10_000
	maxKeyIDsPerCall  = 10_000
	defaultPageSize   = 100
	maxPageSize       = 1000
	defaultEventPage  = 20                      // GetKeyHistory
	maxErrorField     = failure.MaxFieldBytes   // error_type, error_code
	maxErrorMessage   = failure.MaxMessageBytes // error_message
)

func validatePool(pool string) error {
	if pool == "" {
		return invalid("pool", "is required")
	}
	if !config.ValidPoolName(pool) {
		return invalid("pool", "must be 1 to 64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// pageSize reads a page_size: 0 means def, more than maxPageSize means
// maxPageSize, and a negative size is refused.
func pageSize(requested int32, def int) (int, error) {
	switch {
	case requested < 0:
		return 0, invalid("page_size", "must not be negative")
	case requested == 0:
		return def, nil
	}
	return min(int(requested), maxPageSize), nil
}

func validateKeyID(field, id string) error {
	if !secret.ValidID(id) {
		return invalid(field, "must be a key id: %d lower-case hex characters", secret.IDLen)
	}
	return nil
}

// validateText bounds free text from callers and rejects invalid UTF-8,
// which protobuf would refuse to send back anyway.
func validateText(field, s string, limit int) error {
	if len(s) > limit {
		return invalid(field, "is %d bytes, longer than %d", len(s), limit)
	}
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	return nil
}

// normalizeSecrets applies secret.Normalize to each secret, naming the index
// of the first bad one (never its value).
func normalizeSecrets(field string, in []string) ([]string, error) {
	out := make([]string, len(in))
	for i, s := range in {
		n, err := secret.Normalize(s)
		if err != nil {
			return nil, invalid(fmt.Sprintf("%s[%d]", field, i), "%v", err)
		}
		out[i] = n
	}
	return out, nil
}
