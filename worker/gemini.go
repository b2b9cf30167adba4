package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// gemini checks a key against the Gemini API. The models list proves the
// key is accepted; with a model configured, a one-token generateContent
// also proves it has quota left today (models.list costs no quota, so it
// cannot see the per-day limit). The key travels in the URL (?key=), as the
// API documents; every error that could quote the URL is scrubbed.
type gemini struct {
	up    *upstream
	model string
}

// models is models.list: {"models": [...], "nextPageToken": "…"}.
type models struct {
	Models []json.RawMessage `json:"models"`
}

func (m *models) complete() bool { return m.Models != nil }

// generated is the part of a generateContent answer that proves it ran.
type generated struct {
	Candidates    []json.RawMessage `json:"candidates"`
	UsageMetadata json.RawMessage   `json:"usageMetadata"`
}

func (g *generated) complete() bool { return g.Candidates != nil || g.UsageMetadata != nil }

// Validate lists one model and, with a model, generates one token.
func (g gemini) Validate(ctx context.Context, secret string) Result {
	var list models
	if r, ok := g.up.fetch(ctx, secret, g.up.authed(secret, request{method: http.MethodGet, path: "/v1beta/models?pageSize=1"}), &list); !ok {
		return r
	}
	if g.model == "" {
		return valid(nil)
	}
	name := url.PathEscape(strings.TrimPrefix(g.model, "models/"))
	r := g.up.authed(secret, request{method: http.MethodPost, path: "/v1beta/models/" + name + ":generateContent", body: map[string]any{
		"contents":         []map[string]any{{"parts": []map[string]string{{"text": "ping"}}}},
		"generationConfig": map[string]any{"maxOutputTokens": 1},
	}})
	var out generated
	if res, ok := g.up.fetch(ctx, secret, r, &out); !ok {
		return res
	}
	return valid(nil)
}
