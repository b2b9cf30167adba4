package server_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// TestLogsNeverHoldSecrets runs a whole session, revealing secrets and
// failing on purpose, and reads the log for any of them.
func TestLogsNeverHoldSecrets(t *testing.T) {
	h := newHarness(t)
	const pool = "log-pool"
	secrets := []string{
		"sk-proj-LOGSECRET1-q8Zt4mWv2XyBn7Kc",
		"sk-ant-api03-LOGSECRET2-Hj3Lp9Rr0Ts",
		"AIzaSyLOGSECRET3-Vb6Nm1Qw5Ee8Rt2Yu",
	}
	ids := h.add(t, pool, secrets...)

	got, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_LeaseId{LeaseId: got.GetLease().GetLeaseId()},
		HttpStatus: 429, ErrorCode: "rate_limit_exceeded", RetryAfter: durationpb.New(7 * time.Second),
		ErrorMessage: "Rate limit reached for " + got.GetSecret()}) // callers paste anything
	if _, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool, Reveal: true}); err != nil {
		t.Fatal(err)
	}
	const rejected = "sk-proj-LOGSECRET4-rejected-with-a-blank"
	_, err = h.client.Add(h.ctx(t), &pb.AddRequest{Pool: pool, Secrets: []string{rejected, "   "}})
	if d := detailsOf(t, err); d.st.Code() != codes.InvalidArgument {
		t.Fatalf("Add with a blank secret: %v", err)
	}
	if _, err := h.client.Remove(h.ctx(t), &pb.RemoveRequest{Pool: pool, Secrets: []string{secrets[2]}}); err != nil {
		t.Fatal(err)
	}

	log := h.logs.String()
	if log == "" {
		t.Fatal("nothing was logged")
	}
	for _, s := range append(secrets, rejected) {
		if strings.Contains(log, s) {
			t.Errorf("the log holds secret %q", s)
		}
	}
	if strings.Contains(log, "LOGSECRET") {
		t.Error("the log holds part of a secret")
	}

	var changed, removed, revealed bool
	for _, line := range h.logs.Lines(t) {
		switch line["msg"] {
		case "key state changed":
			changed = changed || (line["key_id"] == got.GetKeyId() && line["pool"] == pool && line["to"] == "cooling_down")
		case "key removed":
			removed = removed || line["key_id"] == ids[2]
		case "secrets revealed":
			revealed = true
		}
	}
	if !changed {
		t.Errorf("no \"key state changed\" line for key %s after the 429 in:\n%s", got.GetKeyId(), log)
	}
	if !removed {
		t.Errorf("no \"key removed\" line for key %s", ids[2])
	}
	if !revealed {
		t.Error("revealing secrets was not logged")
	}
}

// TestLogsStateChangeOnlyWhenStateChanges checks that "key state changed"
// is logged for a real change (and for a cooldown, which may move its
// end) but not for a report that leaves a parked key as it was.
func TestLogsStateChangeOnlyWhenStateChanges(t *testing.T) {
	h := newHarness(t)
	const pool = "log-changes"
	ids := h.add(t, pool, "sk-log-changes-0001", "sk-log-changes-0002", "sk-log-changes-0003")
	byID := func(id string, status int32) *pb.ReportFailureRequest {
		return &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: status}
	}
	h.report(t, byID(ids[0], 401)) // active → suspect
	h.report(t, byID(ids[1], 402)) // active → disabled
	h.report(t, byID(ids[2], 429)) // active → cooling_down
	h.report(t, byID(ids[2], 429)) // cooling_down, its end maybe moved

	changes := map[string]int{}
	for _, line := range h.logs.Lines(t) {
		if line["msg"] == "key state changed" {
			changes[line["key_id"].(string)]++
		}
	}
	if changes[ids[0]] != 1 || changes[ids[1]] != 1 || changes[ids[2]] != 2 {
		t.Fatalf("state changes logged per key %v, want 1, 1 and 2", changes)
	}

	// Rate limits and transient errors on parked keys change nothing, and
	// say nothing about a change.
	for _, id := range ids[:2] {
		if rep := h.report(t, byID(id, 429)); rep.GetPreviousState() != rep.GetState() {
			t.Fatalf("429 on a parked key moved it %s → %s", rep.GetPreviousState(), rep.GetState())
		}
		h.report(t, byID(id, 503))
	}
	for _, line := range h.logs.Lines(t) {
		if line["msg"] == "key state changed" {
			changes[line["key_id"].(string)]--
		}
	}
	for _, id := range ids[:2] {
		if changes[id] != 0 {
			t.Errorf("key %s: \"key state changed\" logged for reports that changed nothing", id)
		}
	}
}
