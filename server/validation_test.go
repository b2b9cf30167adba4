package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// canary is in every secret the invalid requests carry (bar blank ones),
// so that any part of a secret leaking into an error shows.
const canary = "CANARY"

// TestInvalidArgument sends every kind of malformed request to every RPC
// that takes it: each is INVALID_ARGUMENT naming the field in the message
// and in a BadRequest, and no error ever quotes a secret.
func TestInvalidArgument(t *testing.T) {
	h := newHarness(t)

	// Real page tokens, for using them with the wrong query.
	const tokenPool = "inv-tokens"
	h.add(t, tokenPool, "sk-inv-token-00001", "sk-inv-token-00002", "sk-inv-token-00003")
	first, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: tokenPool, PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, token %q", err, first.GetNextPageToken())
	}
	token := first.GetNextPageToken()
	activeFirst, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: tokenPool, PageSize: 1, State: stateActive})
	if err != nil || activeFirst.GetNextPageToken() == "" {
		t.Fatalf("first active page: %v, token %q", err, activeFirst.GetNextPageToken())
	}
	activeToken := activeFirst.GetNextPageToken()

	// Calls, by RPC, with everything valid except what each case breaks.
	const okPool, okSecret, okKeyID = "inv-pool", "sk-inv-CANARY-fine-0001", "0123456789abcdef"
	type call func(context.Context) error
	getRandom := func(pool string) call {
		return func(ctx context.Context) error {
			_, err := h.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: pool})
			return err
		}
	}
	getAll := func(req *pb.GetAllRequest) call {
		return func(ctx context.Context) error {
			if req.GetPool() == "" {
				req.Pool = tokenPool
			}
			_, err := h.client.GetAll(ctx, req)
			return err
		}
	}
	add := func(pool string, secrets ...string) call {
		return func(ctx context.Context) error {
			_, err := h.client.Add(ctx, &pb.AddRequest{Pool: pool, Secrets: secrets})
			return err
		}
	}
	addWeighted := func(secrets []string, weights ...uint32) call {
		return func(ctx context.Context) error {
			_, err := h.client.Add(ctx, &pb.AddRequest{Pool: okPool, Secrets: secrets, Weights: weights})
			return err
		}
	}
	remove := func(req *pb.RemoveRequest) call {
		return func(ctx context.Context) error {
			_, err := h.client.Remove(ctx, req)
			return err
		}
	}
	report := func(req *pb.ReportFailureRequest) call {
		return func(ctx context.Context) error {
			if req.GetPool() == "" {
				req.Pool = okPool
			}
			if req.Key == nil {
				req.Key = &pb.ReportFailureRequest_KeyId{KeyId: okKeyID}
			}
			_, err := h.client.ReportFailure(ctx, req)
			return err
		}
	}
	noKey := func(req *pb.ReportFailureRequest) call {
		return func(ctx context.Context) error {
			req.Pool = okPool
			_, err := h.client.ReportFailure(ctx, req)
			return err
		}
	}

	type invalidCase struct {
		name  string
		call  call
		field string
	}
	var cases []invalidCase

	// Pool names, for every RPC.
	badPools := []struct{ name, pool, field string }{
		{"missing", "", "pool"},
		{"65 characters", strings.Repeat("a", 65), "pool"},
		{"space", "a b", "pool"},
		{"slash", "a/b", "pool"},
		{"hash tag braces", "{x}", "pool"},
		{"leading dash", "-lead", "pool"},
	}
	for _, p := range badPools {
		cases = append(cases,
			invalidCase{"GetRandom/pool " + p.name, getRandom(p.pool), p.field},
			invalidCase{"GetAll/pool " + p.name, func(ctx context.Context) error {
				_, err := h.client.GetAll(ctx, &pb.GetAllRequest{Pool: p.pool})
				return err
			}, p.field},
			invalidCase{"Add/pool " + p.name, add(p.pool, okSecret), p.field},
			invalidCase{"Remove/pool " + p.name, remove(&pb.RemoveRequest{Pool: p.pool, KeyIds: []string{okKeyID}}), p.field},
			invalidCase{"ReportFailure/pool " + p.name, func(ctx context.Context) error {
				_, err := h.client.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: p.pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: okKeyID}, HttpStatus: 429})
				return err
			}, p.field},
		)
	}

	tooMany := make([]string, 10_001)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("sk-inv-%s-many-%05d", canary, i)
	}
	tooManyIDs := make([]string, 10_001)
	for i := range tooManyIDs {
		tooManyIDs[i] = fmt.Sprintf("%016x", i)
	}
	oversized := "sk-" + strings.Repeat(canary, 4096/len(canary)+1)
	cases = append(cases,
		invalidCase{"Add/no secrets", add(okPool), "secrets"},
		invalidCase{"Add/10001 secrets", add(okPool, tooMany...), "secrets"},
		invalidCase{"Add/blank secret", add(okPool, okSecret, ""), "secrets[1]"},
		invalidCase{"Add/whitespace-only secret", add(okPool, okSecret, okSecret+"-2", " \t\n "), "secrets[2]"},
		invalidCase{"Add/secret over 4096 bytes", add(okPool, oversized), "secrets[0]"},
		invalidCase{"Add/secret with an inner space", add(okPool, "sk-inv-"+canary+" half-two"), "secrets[0]"},
		invalidCase{"Add/secret with a control character", add(okPool, "sk-inv-"+canary+"\x00nul"), "secrets[0]"},
		invalidCase{"Add/fewer weights than secrets", addWeighted([]string{okSecret, okSecret + "-2"}, 3), "weights"},
		invalidCase{"Add/more weights than secrets", addWeighted([]string{okSecret}, 1, 2), "weights"},
		invalidCase{"Add/weight over 1000000", addWeighted([]string{okSecret, okSecret + "-2"}, 1, 1_000_001), "weights[1]"},

		invalidCase{"Remove/nothing named", remove(&pb.RemoveRequest{Pool: okPool}), "key_ids"},
		invalidCase{"Remove/10001 key ids", remove(&pb.RemoveRequest{Pool: okPool, KeyIds: tooManyIDs}), "key_ids"},
		invalidCase{"Remove/malformed key id", remove(&pb.RemoveRequest{Pool: okPool, KeyIds: []string{okKeyID, "not-a-key-id"}}), "key_ids[1]"},
		invalidCase{"Remove/upper-case key id", remove(&pb.RemoveRequest{Pool: okPool, KeyIds: []string{"0123456789ABCDEF"}}), "key_ids[0]"},
		invalidCase{"Remove/blank secret", remove(&pb.RemoveRequest{Pool: okPool, Secrets: []string{okSecret, "  "}}), "secrets[1]"},
		invalidCase{"Remove/secret with an inner space", remove(&pb.RemoveRequest{Pool: okPool, Secrets: []string{"sk-inv-" + canary + " x"}}), "secrets[0]"},

		invalidCase{"GetAll/negative page_size", getAll(&pb.GetAllRequest{PageSize: -1}), "page_size"},
		invalidCase{"GetAll/unknown state", getAll(&pb.GetAllRequest{State: pb.KeyState(99)}), "state"},
		invalidCase{"GetAll/garbage page_token", getAll(&pb.GetAllRequest{PageToken: "not a token!"}), "page_token"},
		invalidCase{"GetAll/well-encoded garbage page_token", getAll(&pb.GetAllRequest{PageToken: base64.RawURLEncoding.EncodeToString([]byte("v1|inv-tokens|x"))}), "page_token"},
		invalidCase{"GetAll/page_token from another pool", getAll(&pb.GetAllRequest{Pool: "inv-elsewhere", PageToken: token}), "page_token"},
		invalidCase{"GetAll/page_token from another state filter", getAll(&pb.GetAllRequest{PageToken: token, State: stateActive}), "page_token"},
		invalidCase{"GetAll/page_token from a state filter, used without", getAll(&pb.GetAllRequest{PageToken: activeToken}), "page_token"},

		invalidCase{"ReportFailure/neither lease nor key id", noKey(&pb.ReportFailureRequest{HttpStatus: 429}), "key"},
		invalidCase{"ReportFailure/malformed key id", report(&pb.ReportFailureRequest{Key: &pb.ReportFailureRequest_KeyId{KeyId: "xyz"}}), "key_id"},
		invalidCase{"ReportFailure/empty key id", report(&pb.ReportFailureRequest{Key: &pb.ReportFailureRequest_KeyId{}}), "key_id"},
		invalidCase{"ReportFailure/malformed lease id", report(&pb.ReportFailureRequest{Key: &pb.ReportFailureRequest_LeaseId{LeaseId: "not-a-lease"}}), "lease_id"},
		invalidCase{"ReportFailure/empty lease id", report(&pb.ReportFailureRequest{Key: &pb.ReportFailureRequest_LeaseId{}}), "lease_id"},
		invalidCase{"ReportFailure/http_status 42", report(&pb.ReportFailureRequest{HttpStatus: 42}), "http_status"},
		invalidCase{"ReportFailure/http_status 600", report(&pb.ReportFailureRequest{HttpStatus: 600}), "http_status"},
		invalidCase{"ReportFailure/negative http_status", report(&pb.ReportFailureRequest{HttpStatus: -429}), "http_status"},
		invalidCase{"ReportFailure/oversized error_message", report(&pb.ReportFailureRequest{HttpStatus: 429, ErrorMessage: strings.Repeat("m", 4097)}), "error_message"},
		invalidCase{"ReportFailure/oversized error_type", report(&pb.ReportFailureRequest{HttpStatus: 429, ErrorType: strings.Repeat("t", 257)}), "error_type"},
		invalidCase{"ReportFailure/negative retry_after", report(&pb.ReportFailureRequest{HttpStatus: 429, RetryAfter: durationpb.New(-time.Second)}), "retry_after"},
		invalidCase{"ReportFailure/malformed retry_after", report(&pb.ReportFailureRequest{HttpStatus: 429, RetryAfter: &durationpb.Duration{Seconds: 1, Nanos: -1}}), "retry_after"},
		invalidCase{"ReportFailure/unknown kind", report(&pb.ReportFailureRequest{HttpStatus: 429, Kind: pb.FailureKind(42)}), "kind"},
	)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(h.ctx(t))
			d := detailsOf(t, err)
			if d.st.Code() != codes.InvalidArgument {
				t.Fatalf("code %s (%q), want InvalidArgument", d.st.Code(), d.st.Message())
			}
			if !strings.HasPrefix(d.st.Message(), tc.field+": ") {
				t.Errorf("message %q does not start with the field %q", d.st.Message(), tc.field)
			}
			if d.bad == nil || len(d.bad.GetFieldViolations()) != 1 || d.bad.GetFieldViolations()[0].GetField() != tc.field {
				t.Fatalf("BadRequest %v, want one violation of %q", d.bad, tc.field)
			}
			desc := d.bad.GetFieldViolations()[0].GetDescription()
			if desc == "" {
				t.Error("the field violation has no description")
			}
			for _, text := range []string{d.st.Message(), desc} {
				if strings.Contains(text, canary) || strings.Contains(text, okSecret) {
					t.Errorf("error quotes a secret: %q", text)
				}
			}
		})
	}

	if strings.Contains(h.logs.String(), canary) {
		t.Error("the log quotes a secret from an invalid request")
	}
	// Validation comes before any write.
	resp, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: okPool})
	if err != nil {
		t.Fatal(err)
	}
	if n := resp.GetCounts().GetTotal(); n != 0 {
		t.Errorf("invalid requests left %d keys in %s", n, okPool)
	}
}

// TestReportFailureInvalidUTF8 covers a text field that is not UTF-8.
// Protobuf does not let one travel in a proto3 string: the Go client
// refuses to send it, and the server's protobuf decoder rejects the raw
// bytes before the handler runs (gRPC's own code for an unparseable
// request is INTERNAL; the service maps it to INVALID_ARGUMENT). The handler keeps its own check for in-process
// callers; that is checked by calling the Service directly.
func TestReportFailureInvalidUTF8(t *testing.T) {
	h := newHarness(t)
	const pool = "utf8-pool"
	id := h.add(t, pool, "sk-utf8-key-00001")[0]
	bad := func() *pb.ReportFailureRequest {
		return &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 429, ErrorCode: "rate_limit\xffexceeded"}
	}

	// The generated client: nothing is sent.
	_, err := h.client.ReportFailure(h.ctx(t), bad())
	t.Logf("generated client: %v", err)
	if code := status.Code(err); code == codes.OK || code == codes.Unavailable {
		t.Fatalf("generated client sent invalid UTF-8: %v", err)
	}

	// Raw bytes on the wire: the server refuses to decode them.
	good := bad()
	good.ErrorCode = "rate_limit_exceeded"
	wire, err := proto.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	wire = bytes.Replace(wire, []byte("rate_limit_exceeded"), []byte("rate_limit\xffexceeded"), 1)
	var out []byte
	err = h.conn.Invoke(h.ctx(t), pb.KeyBrokerService_ReportFailure_FullMethodName, wire, &out, grpc.ForceCodecV2(rawCodec{}))
	t.Logf("raw bytes: %v", err)
	if code := status.Code(err); code != codes.InvalidArgument {
		t.Fatalf("raw invalid UTF-8: %v, want INVALID_ARGUMENT (the caller's bytes, not the broker's fault)", err)
	}
	if k := h.key(t, pool, id); k.GetFailureCount() != 0 || k.GetState() != stateActive {
		t.Fatalf("the handler ran: key %s with %d failures", k.GetState(), k.GetFailureCount())
	}

	// The handler's own rule.
	_, err = h.svc.ReportFailure(h.ctx(t), bad())
	d := detailsOf(t, err)
	if d.st.Code() != codes.InvalidArgument || !strings.HasPrefix(d.st.Message(), "error_code: ") ||
		d.bad == nil || d.bad.GetFieldViolations()[0].GetField() != "error_code" {
		t.Fatalf("direct call: %v, want INVALID_ARGUMENT on error_code", err)
	}
}

// rawCodec sends and receives bytes as they are, named "proto" so the
// server decodes them with its protobuf codec.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }
