package worker

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keybroker/keybroker/failure"
)

// observe reads a provider's refusal, in any of the three error shapes,
// into what failure.Classify reads:
//
//	OpenAI, relays: {"error": {"message", "type", "code"}}   (or "error": "text")
//	Anthropic:      {"type": "error", "error": {"type", "message"}}
//	Gemini:         {"error": {"code": 429, "message", "status", "details": [
//	                  ErrorInfo{reason}, QuotaFailure{violations[{quotaId}]},
//	                  RetryInfo{retryDelay}]}}
//
// hasError is false when the body holds no error at all, which is how a
// 2xx answer is told from a relay's "HTTP 200 with an error body".
func observe(status int, header http.Header, body []byte) (obs failure.Observation, hasError bool) {
	obs = failure.Observation{HTTPStatus: status, RetryAfter: retryAfter(header)}
	var envelope struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &envelope) != nil || len(envelope.Error) == 0 || string(envelope.Error) == "null" {
		return obs, false
	}
	var text string
	if json.Unmarshal(envelope.Error, &text) == nil {
		obs.ErrorMessage = text
		return obs, true
	}
	var e providerError
	if json.Unmarshal(envelope.Error, &e) != nil {
		return obs, true // an error of a shape nobody documents: the status decides
	}
	e.fill(&obs)
	return obs, true
}

// providerError is the inside of "error" in every dialect.
type providerError struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`   // OpenAI, Anthropic
	Status  string          `json:"status"` // Gemini: RESOURCE_EXHAUSTED, …
	Code    json.RawMessage `json:"code"`   // OpenAI: a string; Gemini: the HTTP status
	Details []struct {
		Type       string `json:"@type"`
		Reason     string `json:"reason"`     // ErrorInfo
		RetryDelay string `json:"retryDelay"` // RetryInfo
		Violations []struct {
			QuotaID string `json:"quotaId"`
		} `json:"violations"` // QuotaFailure
	} `json:"details"`
}

func (e providerError) fill(obs *failure.Observation) {
	obs.ErrorMessage = e.Message
	obs.ErrorType = e.Type
	if obs.ErrorType == "" {
		obs.ErrorType = e.Status
	}
	var code string
	if json.Unmarshal(e.Code, &code) == nil {
		obs.ErrorCode = code
	}
	for _, d := range e.Details {
		switch {
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") && obs.ErrorCode == "":
			obs.ErrorCode = d.Reason
		case strings.HasSuffix(d.Type, "google.rpc.QuotaFailure") && obs.ErrorCode == "" && len(d.Violations) > 0:
			obs.ErrorCode = d.Violations[0].QuotaID
		case strings.HasSuffix(d.Type, "google.rpc.RetryInfo"):
			if delay, err := time.ParseDuration(d.RetryDelay); err == nil {
				obs.RetryAfter = max(obs.RetryAfter, delay)
			}
		}
	}
}

// retryAfter reads OpenAI's retry-after-ms or the standard Retry-After in
// seconds; 0 when neither is there or readable.
func retryAfter(h http.Header) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}
