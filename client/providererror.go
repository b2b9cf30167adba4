package client

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// providerError is what a provider's error body says, in the terms of
// ReportFailureRequest. Transport does not interpret it: the broker does.
type providerError struct {
	typ, code, message string
	// retryDelay is Gemini's google.rpc.RetryInfo, 0 when absent.
	retryDelay time.Duration
}

// Bounds of the report's text fields, as the broker enforces them. Longer
// values are cut here rather than have the whole report refused.
const (
	maxReportField   = 256
	maxReportMessage = 4096
)

// errorEnvelope matches the error bodies of OpenAI and relays
// ({"error":{"type","code","message"}}), Anthropic
// ({"type":"error","error":{"type","message"}}) and Gemini
// ({"error":{"code":429,"status","message","details":[…]}}).
type errorEnvelope struct {
	Error json.RawMessage `json:"error"`
}

type errorObject struct {
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"` // a string for OpenAI, the HTTP status (a number) for Gemini
	Message string          `json:"message"`
	Status  string          `json:"status"`
	Details []googleDetail  `json:"details"`
}

// googleDetail is any of the google.rpc details Gemini sends; only the
// fields of ErrorInfo, QuotaFailure and RetryInfo are read.
type googleDetail struct {
	Type       string `json:"@type"`
	Reason     string `json:"reason"`
	Violations []struct {
		QuotaID string `json:"quotaId"`
	} `json:"violations"`
	RetryDelay string `json:"retryDelay"`
}

// parseProviderError reads an error body. Whatever it cannot read (HTML
// from a proxy, a truncated body) yields the zero value: the status alone
// still tells the broker something.
func parseProviderError(body []byte) providerError {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' { // Gemini's streaming endpoints wrap errors in an array
		var list []errorEnvelope
		if json.Unmarshal(body, &list) != nil || len(list) == 0 {
			return providerError{}
		}
		return fromEnvelope(list[0])
	}
	var env errorEnvelope
	if json.Unmarshal(body, &env) != nil {
		return providerError{}
	}
	return fromEnvelope(env)
}

func fromEnvelope(env errorEnvelope) providerError {
	var text string
	if json.Unmarshal(env.Error, &text) == nil { // relays: {"error": "message"}
		return providerError{message: clip(text, maxReportMessage)}
	}
	var obj errorObject
	if json.Unmarshal(env.Error, &obj) != nil {
		return providerError{}
	}
	pe := providerError{typ: obj.Type, message: obj.Message}
	_ = json.Unmarshal(obj.Code, &pe.code) // numbers (Gemini's copy of the status) are left out
	if pe.typ == "" {
		pe.typ = obj.Status
	}
	readGoogleDetails(&pe, obj.Details)
	pe.typ, pe.code = clip(pe.typ, maxReportField), clip(pe.code, maxReportField)
	pe.message = clip(pe.message, maxReportMessage)
	return pe
}

// readGoogleDetails takes the error code from Gemini's details when the
// body had none: a QuotaFailure's quota id (it tells a per-day quota from
// a per-minute limit) before an ErrorInfo's reason (API_KEY_INVALID).
func readGoogleDetails(pe *providerError, details []googleDetail) {
	var reason, quotaID string
	for _, d := range details {
		switch {
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") && reason == "":
			reason = d.Reason
		case strings.HasSuffix(d.Type, "google.rpc.QuotaFailure") && quotaID == "":
			for _, v := range d.Violations {
				if v.QuotaID != "" {
					quotaID = v.QuotaID
					break
				}
			}
		case strings.HasSuffix(d.Type, "google.rpc.RetryInfo"):
			if dur, err := time.ParseDuration(d.RetryDelay); err == nil && dur > 0 {
				pe.retryDelay = dur
			}
		}
	}
	if pe.code == "" {
		pe.code = quotaID
	}
	if pe.code == "" {
		pe.code = reason
	}
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
