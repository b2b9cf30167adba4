package store

import "fmt"

// reply reads a script's array reply positionally, remembering the first
// shape error so callers check once instead of after every field.
type reply []any

func (r reply) int(i int) int64 {
	if i < len(r) {
		if v, ok := r[i].(int64); ok {
			return v
		}
	}
	return 0
}

func (r reply) str(i int) string {
	if i < len(r) {
		if v, ok := r[i].(string); ok {
			return v
		}
	}
	return ""
}

// err returns fallback unless the reply is malformed, in which case it
// returns an error describing the shape. A malformed reply means the script
// and this code disagree: a bug, reported rather than papered over.
func (r reply) err(fallback error) error {
	for _, v := range r {
		switch v.(type) {
		case int64, string, []any:
		default:
			return fmt.Errorf("unexpected script reply element %T", v)
		}
	}
	return fallback
}
