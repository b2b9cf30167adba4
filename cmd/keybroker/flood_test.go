package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// procKB reads a field (VmHWM: peak resident memory) of /proc/PID/status.
func procKB(t *testing.T, pid int, field string) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("%s: %q", field, v)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// An unauthenticated network peer sends Remove requests of 4 million empty
// key ids (8 MB on the wire, ~300 MB once decoded), several at once. The
// broker refuses them from their headers, before reading the bodies: its
// peak resident memory stays within a few MB of idle.
func TestUnauthenticatedFloodLeavesMemoryFlat(t *testing.T) {
	b := startBrokerEnv(t, []string{"KEYBROKER_ADMIN_TOKEN=admin-token-0123456789abc"})
	pid := b.cmd.Process.Pid
	idle := procKB(t, pid, "VmHWM")

	req := &pb.RemoveRequest{Pool: "p", KeyIds: make([]string, 4_000_000)}
	const attackers = 4
	var wg sync.WaitGroup
	errs := make(chan error, attackers)
	for range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, err := b.client.Remove(ctx, req, grpc.MaxCallSendMsgSize(64<<20))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("unauthenticated 8 MB Remove = %v, want UNAUTHENTICATED", err)
		}
	}
	peak := procKB(t, pid, "VmHWM")
	t.Logf("broker peak RSS: idle %d kB, after %d unauthenticated 8 MB requests %d kB", idle, attackers, peak)
	if grown := peak - idle; grown > 16<<10 {
		t.Fatalf("unauthenticated requests grew the broker's peak RSS by %d kB (idle %d kB, peak %d kB); want under 16 MB", grown, idle, peak)
	}
}
