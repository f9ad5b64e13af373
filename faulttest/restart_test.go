package faulttest

import (
	"net/http"
	"testing"
	"time"

	"github.com/deprov/deprov/internal/pgtarget"
	"github.com/deprov/deprov/internal/scimtarget"
	"github.com/deprov/deprov/store"
)

// TestPostgresRestartUnderLoad: PostgreSQL is stopped (fast shutdown: every
// connection dropped, open transactions aborted) while a node works 2,000
// revocations, stays down 3 s and starts again. The node does not exit:
// it reconnects, answers /readyz again, and finishes; every revocation
// succeeds exactly once (checkExactlyOnce).
func TestPostgresRestartUnderLoad(t *testing.T) {
	t.Parallel()
	pgRestart.Lock()
	defer pgRestart.Unlock()
	const leavers = 2000
	tg := scimtarget.Start(t)
	r := newRig(t, rigOptions{db: pgtarget.Start(t), target: tg, leavers: leavers, allocation: 16})
	r.prepare()

	n := r.startNode("node")
	r.waitFor("a quarter succeeded", 3*time.Minute, func(n map[store.RevocationState]int) bool {
		return n[store.Succeeded] >= leavers/4
	})
	at := r.counts()
	pgtarget.Restart(t, 3*time.Second)
	backUp := time.Now()
	t.Logf("restarted PostgreSQL with %v", at)

	r.waitFor("every revocation terminal after the restart", rescueWait, allTerminal)
	t.Logf("finished %s after the restart", time.Since(backUp).Round(time.Millisecond))
	if code, err := n.ready(); code != http.StatusOK {
		t.Errorf("/readyz after the restart: %d, %v", code, err)
	}
	errs := 0
	for _, l := range n.log.lines() {
		if l.Level == "ERROR" || l.Level == "WARN" {
			errs++
		}
	}
	if errs == 0 {
		t.Error("the node logged no warning or error: the restart went unnoticed, so it tested nothing")
	}
	t.Logf("the node logged %d warnings and errors through the restart", errs)
	n.stop()
	// An attempt the restart cut short (its success could not be recorded)
	// began before the database was back.
	r.checkExactlyOnce(func(_ int64, began time.Time) bool { return began.Before(backUp) })
}
