package bench

import (
	"context"
	"testing"
	"time"
)

// These tests run with `go test ./bench/` (no -bench): they check that the
// harness measures what it says, quickly, never how fast anything is.

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {0.93456, "0.935"}, {1.44, "1.44"}, {16.31, "16.3"}, {1500.4, "1500"}, {1e6, "1000000"},
	} {
		if got := Format(tc.in); got != tc.want {
			t.Errorf("Format(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestPersonMix: the generated feed has the mix its doc promises.
func TestPersonMix(t *testing.T) {
	t.Parallel()
	const n = 10_000
	terminated, fixed, past := 0, 0, 0
	for i := range n {
		p := Person(i)
		if p.Status == "TERMINATED" {
			terminated++
		}
		if p.Attributes["contract"] == "fixed-term" {
			fixed++
			if !p.EndDate.Time.After(Now) {
				past++
			}
		}
	}
	if terminated != n/50 || fixed != n/5 || past < n/200 || past > n/50 {
		t.Fatalf("terminated %d, fixed-term %d (past end date %d) of %d", terminated, fixed, past, n)
	}
}

// TestRig: a rig revokes every leaver through the engine, the target sees
// one GET and one PATCH each, and a bare client sends the same requests.
func TestRig(t *testing.T) {
	t.Parallel()
	const n = 20
	target := StartFake(t, 0)
	res := revokeAll(t, target.URL, target.Token, IDs(n), 4, time.Minute)
	if res.N != n || len(res.Done) != n || res.Elapsed <= 0 {
		t.Fatalf("result %+v, want %d revocations", res, n)
	}
	if g, p := target.Gets.Load(), target.Patches.Load(); g != n || p != n {
		t.Fatalf("target saw %d GET and %d PATCH, want %d each", g, p, n)
	}
	if _, err := Bare(context.Background(), BareOptions{URL: target.URL, Token: target.Token, Concurrency: 4, ReadFirst: true}, IDs(n)); err != nil {
		t.Fatal(err)
	}
	if g, p := target.Gets.Load(), target.Patches.Load(); g != 2*n || p != 2*n {
		t.Fatalf("after the bare client the target saw %d GET and %d PATCH, want %d each", g, p, 2*n)
	}
}
