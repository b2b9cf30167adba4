package clients

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeProvider answers like OpenAI, by the key the request carries: a
// broken upstream for some keys, a working one for the rest.
//   - sk-rate-*: 429 rate_limit_exceeded with Retry-After: 30 and OpenAI's
//     reset headers, as a rate-limited key gets;
//   - sk-dead-*: 401 invalid_api_key, as a revoked key gets;
//   - sk-down-*: 503, the provider's own trouble (never the key's);
//   - sk-rl-*: 200 with OpenAI's rate-limit headers (1000 requests and
//     50000 tokens a window, 10 and 1000 of them used), which the
//     clients report to the broker as usage;
//   - any other key: 200, saying which header carried the key (never the
//     key itself), as a chat completion when the path asks for one.
//
// A request without a key is a 401 with no code.
func fakeProvider(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header, key := presentedKey(r.Header)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case key == "":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"You didn't provide an API key.","type":"invalid_request_error","code":null}}`))
		case strings.HasPrefix(key, "sk-rate-"):
			w.Header().Set("Retry-After", "30")
			w.Header().Set("X-Ratelimit-Remaining-Requests", "0")
			w.Header().Set("X-Ratelimit-Reset-Requests", "6m0s")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}`))
		case strings.HasPrefix(key, "sk-dead-"):
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`))
		case strings.HasPrefix(key, "sk-down-"):
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"message":"The server is overloaded.","type":"server_error","param":null,"code":null}}`))
		case strings.HasPrefix(key, "sk-rl-"):
			for k, v := range map[string]string{
				"X-Ratelimit-Limit-Requests": "1000", "X-Ratelimit-Remaining-Requests": "990", "X-Ratelimit-Reset-Requests": "1s",
				"X-Ratelimit-Limit-Tokens": "50000", "X-Ratelimit-Remaining-Tokens": "49000", "X-Ratelimit-Reset-Tokens": "6s",
			} {
				w.Header().Set(k, v)
			}
			_ = json.NewEncoder(w).Encode(chatCompletion("served with " + header))
		case strings.HasSuffix(r.URL.Path, "/chat/completions"):
			_ = json.NewEncoder(w).Encode(chatCompletion("served with " + header))
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "auth": header})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// presentedKey returns the header that carried the key and the key:
// Authorization: Bearer (OpenAI), x-api-key (Anthropic), x-goog-api-key
// (Gemini). The first one set wins, in that order, so a client that left
// the SDK's placeholder in another header is caught by the test.
func presentedKey(h http.Header) (header, key string) {
	if v, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok && strings.HasPrefix(v, "sk-") {
		return "authorization", v
	}
	if v := h.Get("X-Api-Key"); strings.HasPrefix(v, "sk-") {
		return "x-api-key", v
	}
	if v := h.Get("X-Goog-Api-Key"); strings.HasPrefix(v, "sk-") {
		return "x-goog-api-key", v
	}
	return "", ""
}

func chatCompletion(content string) map[string]any {
	return map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000, "model": "gpt-test",
		"choices": []map[string]any{{
			"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": content},
		}},
		"usage": map[string]any{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
	}
}
