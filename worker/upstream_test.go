package worker

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestScrubRemovesTheSecretHoweverItIsWritten(t *testing.T) {
	secret := "AIza/Sy+B=&?secret"
	u := "https://generativelanguage.googleapis.com/v1beta/models?" + url.Values{"key": {secret}, "pageSize": {"1"}}.Encode()
	errs := []error{
		&url.Error{Op: "Get", URL: u, Err: context.DeadlineExceeded},
		errors.New("raw " + secret + " and path " + url.PathEscape(secret)),
		errors.New(`Post "https://x/v1?api_key=whatever-it-is&b=1": EOF`),
	}
	for _, err := range errs {
		got := scrub(err, secret)
		msg := got.Error()
		if strings.Contains(msg, secret) || strings.Contains(msg, url.QueryEscape(secret)) || strings.Contains(msg, "whatever-it-is") {
			t.Errorf("scrub(%q) = %q still shows the key", err, msg)
		}
		if !strings.Contains(msg, "REDACTED") {
			t.Errorf("scrub(%q) = %q: nothing marked as redacted", err, msg)
		}
		if errors.Unwrap(got) != nil {
			t.Errorf("scrub(%q) keeps the original (with its URL) reachable", err)
		}
	}
	if to := scrub(errs[0], secret); !isTimeout(to) {
		t.Error("scrub loses that the request timed out")
	}
}

func TestSubscriptionLimitIsCappedBySystemLimit(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		sub  subscription
		want float64
	}{
		{subscription{HardLimitUSD: f(100)}, 100},
		{subscription{HardLimitUSD: f(100), SystemHardLimitUSD: 120}, 100},
		{subscription{HardLimitUSD: f(100), SystemHardLimitUSD: 20}, 20},
		{subscription{HardLimitUSD: f(0), SystemHardLimitUSD: 20}, 0},
	}
	for _, tt := range tests {
		if got := tt.sub.limit(); got != tt.want {
			t.Errorf("limit of %+v = %v, want %v", tt.sub, got, tt.want)
		}
	}
}
