package worker

import (
	"context"
	"net/http"
)

// anthropicVersion is the API version the probe speaks.
const anthropicVersion = "2023-06-01"

// anthropic checks a key with the cheapest call that proves it can spend:
// a one-token message. Anthropic answers an empty balance with a 400 ("credit
// balance is too low"), which failure.Classify reads as exhausted.
type anthropic struct {
	up    *upstream
	model string
}

// message is the part of a Messages answer that proves it ran.
type message struct {
	Type string `json:"type"`
}

func (m *message) complete() bool { return m.Type == "message" }

// Validate sends a max_tokens 1 message, the key in x-api-key unless the
// pool's auth_header says otherwise.
func (a anthropic) Validate(ctx context.Context, secret string) Result {
	r := a.up.authed(secret, request{
		method: http.MethodPost,
		path:   "/v1/messages",
		header: http.Header{"Anthropic-Version": {anthropicVersion}},
		body: map[string]any{
			"model":      a.model,
			"max_tokens": 1,
			"messages":   []map[string]string{{"role": "user", "content": "ping"}},
		},
	})
	var m message
	if res, ok := a.up.fetch(ctx, secret, r, &m); !ok {
		return res
	}
	return valid(nil)
}
