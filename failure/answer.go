package failure

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of an Observation's text fields, as ReportFailure accepts them.
// ReadAnswer cuts longer values at a rune boundary, so that a report is
// never refused for the provider's verbosity.
const (
	// MaxFieldBytes bounds ErrorType and ErrorCode.
	MaxFieldBytes = 256
	// MaxMessageBytes bounds ErrorMessage.
	MaxMessageBytes = 4096
)

// ReadAnswer reads a provider's HTTP answer (status, headers, body) into
// the Observation that Classify reads and ReportFailure carries. The
// client's Transport and the worker's validators both read answers with
// it, so that a refusal means the same wherever it is seen. It reads:
//
//	OpenAI, relays: {"error": {"message", "type", "code"}}   (or "error": "text")
//	Anthropic:      {"type": "error", "error": {"type", "message"}}
//	Gemini:         {"error": {"code": 429, "message", "status", "details": [
//	                  ErrorInfo{reason}, QuotaFailure{violations[{quotaId}]},
//	                  RetryInfo{retryDelay}]}}   (also wrapped in [...])
//
// ErrorType is the error's type, or Gemini's status. ErrorCode is the
// error's code or, for Gemini, the quota id of a QuotaFailure (a per-day
// quota id when any violation names one, since that outlasts every
// per-minute window) and failing that the ErrorInfo reason. RetryAfter is
// read as RetryAfter documents.
//
// refused reports whether the answer is a refusal: a status outside 2xx,
// or a 2xx whose body holds an error, as relays send. Whatever ReadAnswer
// cannot read (HTML from a proxy, a truncated body) leaves the fields
// empty: the status alone still tells Classify something. now is the time
// the answer arrived, for reset headers that name a time.
func ReadAnswer(status int, header http.Header, body []byte, now time.Time) (obs Observation, refused bool) {
	e, hasError := readErrorBody(body)
	obs = Observation{
		HTTPStatus:   status,
		ErrorType:    clip(e.typ, MaxFieldBytes),
		ErrorCode:    clip(e.code, MaxFieldBytes),
		ErrorMessage: clip(e.message, MaxMessageBytes),
		RetryAfter:   RetryAfter(header, e.retryDelay, now),
	}
	return obs, hasError || status < 200 || status > 299
}

// bodyError is what an error body says, before clipping.
type bodyError struct {
	typ, code, message string
	retryDelay         time.Duration // Gemini's RetryInfo; 0 when absent
}

// errorEnvelope holds the "error" member every dialect uses.
type errorEnvelope struct {
	Error json.RawMessage `json:"error"`
}

// errorObject is the inside of "error" in every dialect.
type errorObject struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`   // OpenAI, Anthropic
	Status  string          `json:"status"` // Gemini: RESOURCE_EXHAUSTED, …
	Code    json.RawMessage `json:"code"`   // OpenAI: a string; Gemini: the HTTP status
	Details []googleDetail  `json:"details"`
}

// googleDetail is any of the google.rpc details Gemini sends; only the
// fields of ErrorInfo, QuotaFailure and RetryInfo are read.
type googleDetail struct {
	Type       string            `json:"@type"`
	Reason     string            `json:"reason"`   // ErrorInfo
	Metadata   map[string]string `json:"metadata"` // ErrorInfo: quota_limit on some Google APIs
	RetryDelay string            `json:"retryDelay"`
	Violations []struct {
		QuotaID string `json:"quotaId"`
	} `json:"violations"` // QuotaFailure
}

// readErrorBody reads the error of an answer's body, and whether it holds
// one at all ("error" present and not null).
func readErrorBody(body []byte) (bodyError, bool) {
	body = bytes.TrimSpace(body)
	var env errorEnvelope
	if len(body) > 0 && body[0] == '[' { // Gemini's streaming endpoints wrap errors in an array
		var list []errorEnvelope
		if json.Unmarshal(body, &list) != nil || len(list) == 0 {
			return bodyError{}, false
		}
		env = list[0]
	} else if json.Unmarshal(body, &env) != nil {
		return bodyError{}, false
	}
	if len(env.Error) == 0 || string(env.Error) == "null" {
		return bodyError{}, false
	}
	var text string
	if json.Unmarshal(env.Error, &text) == nil { // relays: {"error": "message"}
		return bodyError{message: text}, true
	}
	var obj errorObject
	if json.Unmarshal(env.Error, &obj) != nil {
		return bodyError{}, true // an error of a shape nobody documents: the status decides
	}
	return obj.read(), true
}

func (o errorObject) read() bodyError {
	e := bodyError{typ: o.Type, message: o.Message}
	if e.typ == "" {
		e.typ = o.Status
	}
	_ = json.Unmarshal(o.Code, &e.code) // numbers (Gemini's copy of the status) are left out
	var reason string
	var quotaIDs []string
	for _, d := range o.Details {
		switch {
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo"):
			reason = cmp.Or(reason, d.Reason)
			quotaIDs = append(quotaIDs, d.Metadata["quota_limit"])
		case strings.HasSuffix(d.Type, "google.rpc.QuotaFailure"):
			for _, v := range d.Violations {
				quotaIDs = append(quotaIDs, v.QuotaID)
			}
		case strings.HasSuffix(d.Type, "google.rpc.RetryInfo"):
			if delay, err := time.ParseDuration(d.RetryDelay); err == nil && delay > 0 {
				e.retryDelay = min(delay, MaxRetryAfter)
			}
		}
	}
	e.code = cmp.Or(e.code, quotaID(quotaIDs), reason)
	return e
}

// quotaID picks the quota a refusal is about: a per-day one if any is
// named (Gemini lists per-minute and per-day violations together, and the
// per-day one is what keeps the key out), else the first named.
func quotaID(ids []string) string {
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == "" })
	for _, id := range ids {
		if (observed{code: strings.ToLower(id)}).mentions(geminiDaily) {
			return id
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// clip makes s valid UTF-8 of at most n bytes, cut at a rune boundary.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
