package failure

import (
	"regexp"
	"testing"
	"time"
)

var reasonRE = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// FuzzClassify checks that Classify never panics, always decides, and only
// ever gives a reason that is safe to store and log.
func FuzzClassify(f *testing.F) {
	for _, c := range allCases() {
		o := c.o
		f.Add(string(c.p), o.HTTPStatus, o.ErrorType, o.ErrorCode, o.ErrorMessage, int64(o.RetryAfter), tableNow.Unix())
	}
	f.Add("", -1, "\xff", "*_spend_limit_exceeded", "", int64(-1), int64(-1<<62))
	f.Fuzz(func(t *testing.T, p string, status int, typ, code, msg string, retry, now int64) {
		o := Observation{HTTPStatus: status, ErrorType: typ, ErrorCode: code, ErrorMessage: msg, RetryAfter: time.Duration(retry)}
		v := Classify(Provider(p), o, time.Unix(now, 0))
		if v.Kind == Unspecified || v.Kind > Unclassified {
			t.Fatalf("Classify(%q, %+v) kind = %v", p, o, v.Kind)
		}
		if !reasonRE.MatchString(v.Reason) {
			t.Fatalf("Classify(%q, %+v) reason = %q", p, o, v.Reason)
		}
		if v.RetryAfter < 0 || v.RetryAfter != 0 && v.Kind != RateLimited {
			t.Fatalf("Classify(%q, %+v) = %v with RetryAfter %v", p, o, v.Kind, v.RetryAfter)
		}
		if !v.Until.IsZero() && v.Kind != QuotaExhausted {
			t.Fatalf("Classify(%q, %+v) = %v with Until %v", p, o, v.Kind, v.Until)
		}
	})
}
