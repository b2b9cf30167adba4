package worker

import (
	"context"
	"encoding/json"
	"net/http"
)

// openAI checks a key against OpenAI or a compatible relay. The models
// list proves the key is accepted (it does not touch quota); with a model
// configured, a one-token chat completion also proves it can spend, which
// catches insufficient_quota. Choose a model that accepts max_tokens.
type openAI struct {
	up    *upstream
	model string
}

// list is any OpenAI list answer: {"object": "list", "data": [...]}.
type list struct {
	Data []json.RawMessage `json:"data"`
}

func (l *list) complete() bool { return l.Data != nil }

// chatCompletion is the part of a chat completion that proves it ran.
type chatCompletion struct {
	Choices []json.RawMessage `json:"choices"`
}

func (c *chatCompletion) complete() bool { return c.Choices != nil }

// Validate lists models and, with a model, completes one token.
func (o openAI) Validate(ctx context.Context, secret string) Result {
	var models list
	if r, ok := o.up.fetch(ctx, secret, o.up.authed(secret, request{method: http.MethodGet, path: "/v1/models"}), &models); !ok {
		return r
	}
	if o.model == "" {
		return valid(nil)
	}
	var chat chatCompletion
	r := o.up.authed(secret, request{method: http.MethodPost, path: "/v1/chat/completions", body: map[string]any{
		"model":      o.model,
		"messages":   []map[string]string{{"role": "user", "content": "ping"}},
		"max_tokens": 1,
	}})
	if res, ok := o.up.fetch(ctx, secret, r, &chat); !ok {
		return res
	}
	return valid(nil)
}
