package faulttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/deprov/deprov/internal/pgtarget"
)

// binDir holds the deprov binary the tests build; removed after the run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faulttest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := pgtarget.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildOnce builds cmd/deprov on first use, so that listing or filtering
// tests does not pay for it.
var buildOnce = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "deprov")
	// Plain `go build`, not -race: the nodes are processes of their own,
	// and the race detector would only slow the work the tests wait for.
	cmd := exec.Command("go", "build", "-o", bin, "github.com/deprov/deprov/cmd/deprov")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cmd/deprov: %v\n%s", err, out)
	}
	return bin, nil
})

// deprovBinary returns the path of the deprov binary, building it first.
func deprovBinary(t testing.TB) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
