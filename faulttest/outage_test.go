package faulttest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/deprov/deprov/internal/scimtarget"
	"github.com/deprov/deprov/store"
)

// TestSCIMTargetOutage: the SCIM target goes away for 30 s in the middle of
// a run (a proxy in front of it refuses connections and resets the open
// ones; the target keeps its state, as a restarted application would).
// Revocations fail their attempts meanwhile and are retried with backoff;
// after the target returns, every one succeeds, none failed for good, and
// each account was changed once.
//
// The application's maxAttempts decides what outage a revocation survives.
// Attempt n+1 comes about 2^n s after attempt n fails (2, 4, 8, 16, 32 s …
// each ±20 %), so a revocation whose first attempt fails as the outage
// begins makes its 5th attempt 24–36 s later and its 6th 49.6–74.4 s
// later. With the default 5, a 30 s outage can fail revocations for good;
// 6 is the least that carries every revocation over it, and what this test
// sets, so that it shows the limit's meaning, not a generous margin.
func TestSCIMTargetOutage(t *testing.T) {
	t.Parallel()
	const leavers, outage = 1000, 30 * time.Second
	tg := scimtarget.Start(t)
	px, viaProxy := startProxy(t, tg.URL)
	r := newRig(t, rigOptions{db: filepath.Join(t.TempDir(), "deprov.db"), target: tg, scimURL: viaProxy,
		leavers: leavers, allocation: 8, maxAttempts: 6})
	r.prepare()

	n := r.startNode("node")
	r.waitFor("a fifth succeeded", 3*time.Minute, func(n map[store.RevocationState]int) bool {
		return n[store.Succeeded] >= leavers/5
	})
	px.off()
	down := time.Now()
	// An attempt whose answer arrived just before the cut still records
	// its success; a second later the records only move by failures.
	time.Sleep(time.Second)
	before := r.counts()
	// While the target is away nothing may fail for good.
	for time.Since(down) < outage {
		if c := r.counts(); c[store.Failed] > 0 {
			t.Fatalf("%s into the outage: %v", time.Since(down).Round(time.Second), c)
		}
		time.Sleep(time.Second) // the outage's length is the point of the test
	}
	during := r.counts()
	px.on()
	t.Logf("target away for %s: from %v to %v", time.Since(down).Round(time.Millisecond), before, during)
	if during[store.Succeeded] != before[store.Succeeded] {
		t.Errorf("%d revocations succeeded while the target was unreachable", during[store.Succeeded]-before[store.Succeeded])
	}

	r.waitFor("every revocation terminal after the target returned", 3*time.Minute, allTerminal)
	t.Logf("all done %s after the target returned", time.Since(down.Add(outage)).Round(time.Millisecond))
	n.stop()
	h := r.checkExactlyOnce(nil)
	if h.retries == 0 {
		t.Error("no attempt failed: the outage went unnoticed")
	}
}
