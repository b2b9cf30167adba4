package store

import (
	"os"
	"testing"

	"github.com/keybroker/keybroker/internal/redistest"
)

// TestMain shares a Cluster or Sentinel deployment across the package's
// tests when $KEYBROKER_TEST_REDIS asks for one.
func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
