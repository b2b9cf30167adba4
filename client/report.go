package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// reportable reports whether a status is a refusal the broker's table
// reads: a bad request may be a bad key (Anthropic's low credit, Gemini's
// API_KEY_INVALID), and 401, 402, 403 and 429 always concern the key.
// 5xx never change a key's state and are not reported.
func reportable(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusPaymentRequired,
		http.StatusForbidden, http.StatusTooManyRequests:
		return true
	}
	return false
}

// inspect reports a refusal to the broker and says whether the broker
// blamed the key. The caller can still read all of resp's body. A key the
// broker blamed, or whose report failed, is no longer reused.
func (t *Transport) inspect(ctx context.Context, resp *http.Response, key *leased) bool {
	if !reportable(resp.StatusCode) {
		return false
	}
	req := t.observe(resp, key)
	// The report outlives a caller that gives up now: the key's state
	// matters to the next request. The Client's default deadline bounds it.
	rep, err := t.kb.ReportFailure(context.WithoutCancel(ctx), req)
	if err != nil {
		t.cache.drop(key)
		t.log.WarnContext(ctx, "keybroker: report failure", "pool", t.pool, "key_id", key.keyID, "http_status", resp.StatusCode, "err", err)
		return false
	}
	if !keyFault(rep.GetKind()) {
		return false
	}
	t.cache.drop(key)
	return true
}

// observe collects what the provider said, read by failure.ReadAnswer
// (as the broker's worker reads its own checks): status, error body (read
// up to maxBody and put back in front of the rest) and rate-limit headers.
func (t *Transport) observe(resp *http.Response, key *leased) *pb.ReportFailureRequest {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, t.maxBody))
	resp.Body = &replayedBody{Reader: io.MultiReader(bytes.NewReader(body), resp.Body), Closer: resp.Body}
	obs, _ := failure.ReadAnswer(resp.StatusCode, resp.Header, body, time.Now())
	req := &pb.ReportFailureRequest{
		Pool:         t.pool,
		Key:          &pb.ReportFailureRequest_LeaseId{LeaseId: key.leaseID},
		HttpStatus:   int32(resp.StatusCode),
		ErrorType:    obs.ErrorType,
		ErrorCode:    obs.ErrorCode,
		ErrorMessage: obs.ErrorMessage,
	}
	if obs.RetryAfter > 0 {
		req.RetryAfter = durationpb.New(obs.RetryAfter)
	}
	return req
}

// keyFault reports whether a failure kind blames the key, so that another
// key may do better.
func keyFault(k pb.FailureKind) bool {
	switch k {
	case pb.FailureKind_FAILURE_KIND_INVALID_KEY, pb.FailureKind_FAILURE_KIND_QUOTA_EXHAUSTED,
		pb.FailureKind_FAILURE_KIND_RATE_LIMITED, pb.FailureKind_FAILURE_KIND_PERMISSION_DENIED:
		return true
	}
	return false
}

// replayedBody is a response body whose first bytes were read to report
// them and are served again before the rest.
type replayedBody struct {
	io.Reader
	io.Closer
}
