package bench

import (
	"os"
	"testing"
)

// TestMain lets a benchmark re-run this test binary as a child that does
// one measured thing (see child.go), so that the child's peak memory is
// that thing's alone.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(m.Run())
}
