package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/keybroker/keybroker/client"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/brokertest"
)

// A Go service switches to keybroker by wrapping its HTTP client's
// transport: every request then goes out with a key leased from the pool,
// and refusals are reported to the broker.
func ExampleTransport() {
	brokerAddr, stop := exampleBroker("openai-main", "sk-example-0123456789abcdef")
	defer stop()
	upstream := fakeOpenAI() // stands in for https://api.openai.com
	defer upstream.Close()

	kb, err := client.New(brokerAddr)
	if err != nil {
		log.Fatal(err)
	}
	defer kb.Close()
	httpClient := &http.Client{Transport: client.NewTransport(kb, "openai-main", client.WithLeaseReuse(100))}

	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}`
	resp, err := httpClient.Post(upstream.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var completion struct {
		Choices []struct {
			Message struct{ Content string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&completion); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status, completion.Choices[0].Message.Content)
	// Output: 200 OK Hello! (key sk-ex…cdef)
}

// Anthropic and Gemini take the key in their own headers; name the scheme
// per Transport. Retrying once with another key suits idempotent calls.
func ExampleWithAuth() {
	kb, err := client.New("unix:///run/keybroker/keybroker.sock")
	if err != nil {
		log.Fatal(err)
	}
	anthropic := &http.Client{Transport: client.NewTransport(kb, "anthropic-main",
		client.WithAuth(client.AnthropicAuth), client.WithRetryOnKeyFailure())}
	gemini := &http.Client{Transport: client.NewTransport(kb, "gemini-main", client.WithAuth(client.GeminiAuth))}
	_, _ = anthropic, gemini
}

// Without Transport, lease a key, use it, and report what the provider
// said when it refused; the broker decides what that means for the key.
func ExampleClient_ReportFailure() {
	brokerAddr, stop := exampleBroker("openai-main", "sk-example-0123456789abcdef")
	defer stop()
	kb, err := client.New(brokerAddr)
	if err != nil {
		log.Fatal(err)
	}
	defer kb.Close()
	ctx := context.Background()

	key, err := kb.GetRandom(ctx, "openai-main")
	if err != nil {
		log.Fatal(err)
	}
	// … call the provider with key.Secret; it answers 429 rate_limit_exceeded, Retry-After: 20 …
	rep, err := kb.ReportFailure(ctx, &pb.ReportFailureRequest{
		Pool:       "openai-main",
		Key:        &pb.ReportFailureRequest_LeaseId{LeaseId: key.GetLease().GetLeaseId()},
		HttpStatus: 429,
		ErrorCode:  "rate_limit_exceeded",
		RetryAfter: durationpb.New(20 * time.Second),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.GetKind(), rep.GetState())

	_, err = kb.GetRandom(ctx, "openai-main")
	fmt.Println(client.Reason(err), client.RetryDelay(err) > 0)
	// Output:
	// FAILURE_KIND_RATE_LIMITED KEY_STATE_COOLING_DOWN
	// ERROR_REASON_NO_HEALTHY_KEY true
}

// fakeOpenAI answers chat completions, naming (masked) the key it got.
func fakeOpenAI() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! (key %s…%s)"}}]}`,
			key[:5], key[len(key)-4:])
	}))
}

// exampleBroker runs a broker on an in-process store holding secrets in
// pool. A real program dials its deployed broker instead.
func exampleBroker(pool string, secrets ...string) (addr string, stop func()) {
	addr, stopBroker, err := brokertest.Serve(nil) // on the embedded store
	if err != nil {
		log.Fatal(err)
	}
	kb, err := client.New(addr)
	if err != nil {
		log.Fatal(err)
	}
	defer kb.Close()
	if _, err := kb.Add(context.Background(), pool, secrets); err != nil {
		log.Fatalf("seed example broker: %v", err)
	}
	return addr, stopBroker
}
