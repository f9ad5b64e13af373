package faulttest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/deprov/deprov/internal/scimtarget"
	"github.com/deprov/deprov/store"
)

// TestKillNodeSQLite: a `deprov serve` working 5,000 revocations on SQLite
// is killed with SIGKILL once at least a fifth of them succeeded; a new
// `serve` on the same file finishes them. Every revocation succeeds exactly
// once (checkExactlyOnce), and only those the dead node was running are
// taken up again, after the rescue delay.
func TestKillNodeSQLite(t *testing.T) {
	t.Parallel()
	const leavers, allocation = 5000, 32
	tg := scimtarget.Start(t)
	r := newRig(t, rigOptions{db: filepath.Join(t.TempDir(), "deprov.db"), target: tg, leavers: leavers, allocation: allocation})
	r.prepare()

	first := r.startNode("first")
	started := time.Now()
	r.waitFor("a fifth succeeded", 3*time.Minute, func(n map[store.RevocationState]int) bool {
		return n[store.Succeeded] >= leavers/5
	})
	first.kill()
	killed := time.Now()
	at := r.counts()
	interrupted := r.mustRunning()
	t.Logf("killed after %s with %v; %d in flight", killed.Sub(started).Round(time.Millisecond), at, len(interrupted))
	if at[store.Succeeded] >= leavers {
		t.Fatal("the node finished before it was killed: nothing was left to recover")
	}
	// One node runs at most its rule's allocation size at once.
	if len(interrupted) > allocation {
		t.Errorf("%d revocations running at the kill, more than the allocation size %d", len(interrupted), allocation)
	}

	second := r.startNode("second")
	r.waitFor("every revocation terminal after the restart", rescueWait, allTerminal)
	t.Logf("the restarted node finished %s after the kill", time.Since(killed).Round(time.Millisecond))
	second.stop()
	h := r.checkExactlyOnce(func(id int64, _ time.Time) bool { return interrupted[id] })
	if h.reattempted > len(interrupted) {
		t.Errorf("%d revocations taken up again, but only %d were in flight", h.reattempted, len(interrupted))
	}
	if n := len(second.succeeded()); n != leavers-at[store.Succeeded] {
		t.Errorf("the restarted node logged %d successes, want the %d the dead one left", n, leavers-at[store.Succeeded])
	}
	firstDone := map[int64]bool{}
	for _, id := range first.succeeded() {
		firstDone[id] = true
	}
	for _, id := range second.succeeded() {
		if firstDone[id] {
			t.Errorf("revocation %d succeeded on both nodes", id)
		}
	}
}
