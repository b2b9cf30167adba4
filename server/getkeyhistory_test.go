package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
)

func newTestService(t *testing.T) (*Service, *store.Store) {
	t.Helper()
	st := store.New(redistest.Deploy(t).Client(), secret.NewIDs([]byte("server-test")))
	return New(st, lease.NewSigner([]byte("lease-test"))), st
}

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), field+":") {
		t.Fatalf("err = %v, want INVALID_ARGUMENT naming %s", err, field)
	}
}

func TestGetKeyHistoryShowsWhoChangedWhat(t *testing.T) {
	svc, _ := newTestService(t)
	ctx := context.Background()
	add, err := svc.Add(ctx, &pb.AddRequest{Pool: "p", Secrets: []string{"sk-history-test-aaaaaaaaaaaa", "sk-history-test-bbbbbbbbbbbb"}})
	if err != nil {
		t.Fatal(err)
	}
	id := add.GetKeyIds()[0]
	if _, err := svc.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: "p", Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 401, ErrorCode: "invalid_api_key"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Remove(ctx, &pb.RemoveRequest{Pool: "p", KeyIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	var events []*pb.KeyEvent
	req := &pb.GetKeyHistoryRequest{Pool: "p", KeyId: id, PageSize: 1}
	for {
		resp, err := svc.GetKeyHistory(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, resp.GetEvents()...)
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	want := []struct {
		from, to      pb.KeyState
		reason, actor string
	}{
		{pb.KeyState_KEY_STATE_SUSPECT, pb.KeyState_KEY_STATE_REMOVED, "removed_by_admin", "admin"},
		{pb.KeyState_KEY_STATE_ACTIVE, pb.KeyState_KEY_STATE_SUSPECT, "invalid_api_key", "report"},
		{pb.KeyState_KEY_STATE_UNSPECIFIED, pb.KeyState_KEY_STATE_ACTIVE, "added", "admin"},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d: %v", len(events), len(want), events)
	}
	for i, w := range want {
		e := events[i]
		if e.GetPreviousState() != w.from || e.GetState() != w.to || e.GetReason() != w.reason || e.GetActor() != w.actor || e.GetKeyId() != id || e.GetTime() == nil {
			t.Errorf("event %d = %v, want %+v", i, e, w)
		}
	}
}

func TestGetKeyHistoryValidates(t *testing.T) {
	svc, _ := newTestService(t)
	ctx := context.Background()
	id := "0123456789abcdef"
	token := encodeHistoryToken("p", id, "1-0")
	tests := []struct {
		req   *pb.GetKeyHistoryRequest
		field string
	}{
		{&pb.GetKeyHistoryRequest{KeyId: id}, "pool"},
		{&pb.GetKeyHistoryRequest{Pool: "p", KeyId: "nope"}, "key_id"},
		{&pb.GetKeyHistoryRequest{Pool: "p", KeyId: id, PageSize: -1}, "page_size"},
		{&pb.GetKeyHistoryRequest{Pool: "p", KeyId: id, PageToken: "!!"}, "page_token"},
		{&pb.GetKeyHistoryRequest{Pool: "p", KeyId: "fedcba9876543210", PageToken: token}, "page_token"},
		{&pb.GetKeyHistoryRequest{Pool: "p", KeyId: id, PageToken: encodeHistoryToken("p", id, "x-1")}, "page_token"},
		// Crafted by a caller: digits Redis cannot read as a stream id
		// used to reach it and come back INTERNAL.
		{&pb.GetKeyHistoryRequest{Pool: "p", KeyId: id, PageToken: encodeHistoryToken("p", id, "99999999999999999999-0")}, "page_token"},
		{&pb.GetKeyHistoryRequest{Pool: "p", KeyId: id, PageToken: encodeHistoryToken("p", id, "1-99999999999999999999")}, "page_token"},
	}
	for _, tt := range tests {
		_, err := svc.GetKeyHistory(ctx, tt.req)
		wantInvalid(t, err, tt.field)
	}
	resp, err := svc.GetKeyHistory(ctx, &pb.GetKeyHistoryRequest{Pool: "p", KeyId: id, PageToken: token})
	if err != nil || len(resp.GetEvents()) != 0 || resp.GetNextPageToken() != "" {
		t.Fatalf("history of an unknown key = %v, %v; want empty", resp, err)
	}
}

func TestGetAllShowsBalanceAndRefusesRemovedFilter(t *testing.T) {
	svc, st := newTestService(t)
	ctx := context.Background()
	add, err := svc.Add(ctx, &pb.AddRequest{Pool: "p", Secrets: []string{"sk-balance-test-aaaaaaaaaaaa"}})
	if err != nil {
		t.Fatal(err)
	}
	expires := time.UnixMilli(1_900_000_000_000)
	_, err = st.Apply(ctx, "p", add.GetKeyIds()[0], store.Check{Seen: store.Active, Valid: true, Reason: "verified",
		Balance: &store.Balance{LimitUSD: 20, UsedUSD: 12.5, Expires: expires}, Next: store.Schedule{Active: time.Hour}, Actor: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := svc.GetAll(ctx, &pb.GetAllRequest{Pool: "p"})
	if err != nil {
		t.Fatal(err)
	}
	b := all.GetKeys()[0].GetBalance()
	if b.GetLimitUsd() != 20 || b.GetUsedUsd() != 12.5 || !b.GetExpireTime().AsTime().Equal(expires) || b.GetCheckTime() == nil {
		t.Fatalf("balance = %v", b)
	}
	_, err = svc.GetAll(ctx, &pb.GetAllRequest{Pool: "p", State: pb.KeyState_KEY_STATE_REMOVED})
	wantInvalid(t, err, "state")
}
