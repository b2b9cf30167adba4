// Package failuretest holds provider answers shaped as the providers send
// them, each with how the broker must read it, so that every path that
// reads answers (failure.ReadAnswer itself, the client's Transport, the
// worker's validators) is tested on the same table and must agree.
package failuretest

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

//go:embed answers.json
var answersJSON []byte

// Answer is one provider answer and its expected reading.
type Answer struct {
	Name     string           `json:"name"`
	Provider failure.Provider `json:"provider"`
	Status   int              `json:"status"`
	// Fixed holds headers sent as they are.
	Fixed map[string]string `json:"header"`
	// HTTPDate and RFC3339 hold headers that name a time: the value is
	// how long after now, written as an HTTP date or an RFC 3339 time.
	HTTPDate map[string]duration `json:"header_http_date"`
	RFC3339  map[string]duration `json:"header_rfc3339"`
	// Body is a JSON body; Text a body that is not JSON.
	Body json.RawMessage `json:"body"`
	Text string          `json:"text"`
	Want Want            `json:"want"`
}

// Want is how an answer must be classified.
type Want struct {
	// Success means the answer is not a refusal: every reader must take
	// it for a success and report no failure (Kind and Reason are then
	// empty). Successes are in the table for their rate-limit headers,
	// which clients report as usage (failure.ReadRateLimits).
	Success    bool     `json:"success"`
	Kind       string   `json:"kind"`
	Reason     string   `json:"reason"`
	RetryAfter duration `json:"retry_after"`
	// Daily means a quota that lasts until the next Pacific midnight.
	Daily bool `json:"daily"`
}

type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = duration(v)
	return err
}

// Answers returns the table.
func Answers(t testing.TB) []Answer {
	t.Helper()
	var as []Answer
	if err := json.Unmarshal(answersJSON, &as); err != nil {
		t.Fatalf("answers.json: %v", err)
	}
	return as
}

// Header is the answer's headers as sent at now.
func (a Answer) Header(now time.Time) http.Header {
	h := http.Header{}
	for k, v := range a.Fixed {
		h.Set(k, v)
	}
	for k, d := range a.HTTPDate {
		h.Set(k, now.Add(time.Duration(d)).UTC().Format(http.TimeFormat))
	}
	for k, d := range a.RFC3339 {
		h.Set(k, now.Add(time.Duration(d)).UTC().Format(time.RFC3339))
	}
	return h
}

// Payload is the answer's body as sent.
func (a Answer) Payload() []byte {
	if a.Text != "" {
		return []byte(a.Text)
	}
	return a.Body
}

// Write sends the answer as a provider would.
func (a Answer) Write(w http.ResponseWriter, now time.Time) {
	for k, vs := range a.Header(now) {
		w.Header()[k] = vs
	}
	if a.Text != "" {
		w.Header().Set("Content-Type", "text/html")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Payload())
}

// Refusal reports whether the answer is a refusal, which Check reads.
func (a Answer) Refusal() bool { return !a.Want.Success }

// Check fails t unless v is the answer's expected reading. Headers that
// name a time are whole seconds, so a wait read from one may fall short
// of the wanted one by up to a second, and by the time the answer took to
// be read: another process (a client under test, on a loaded machine)
// may read it a good part of a second later. Two seconds cover both.
func (a Answer) Check(t testing.TB, v failure.Verdict) {
	t.Helper()
	want := time.Duration(a.Want.RetryAfter)
	slack := time.Duration(0)
	if len(a.HTTPDate)+len(a.RFC3339) > 0 {
		slack = 2 * time.Second
	}
	if v.Kind.String() != a.Want.Kind || v.Reason != a.Want.Reason ||
		v.RetryAfter > want || v.RetryAfter < want-slack || v.Until.IsZero() == a.Want.Daily {
		t.Errorf("%s: read as %v/%s retry %v until %v; want %s/%s retry %v daily %v",
			a.Name, v.Kind, v.Reason, v.RetryAfter, v.Until, a.Want.Kind, a.Want.Reason, want, a.Want.Daily)
	}
	if a.Want.Daily {
		la, err := time.LoadLocation("America/Los_Angeles")
		if u := v.Until.In(la); err == nil && (u.Hour() != 0 || u.Minute() != 0) {
			t.Errorf("%s: until %v is not a Pacific midnight", a.Name, u)
		}
	}
}
