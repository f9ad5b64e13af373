package faulttest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/deprov/deprov/internal/pgtarget"
	"github.com/deprov/deprov/internal/scimtarget"
	"github.com/deprov/deprov/store"
)

// pulseRule fires every 2 s (Quartz) and matches nobody: its runs only
// show how often the cluster runs a scheduled rule.
const pulseRule = `  - id: pulse
    trigger: {statuses: [RETIRED]}
    schedule: {cron: "0/2 * * * * ?", active: true}
`

// TestTwoNodesPostgres: two `deprov serve` nodes on one PostgreSQL database
// share 5,000 revocations (each logs successes of its own), and a rule
// scheduled every 2 s runs once per fire time across the cluster. Then the
// leader is killed with SIGKILL: the survivor takes over the leadership,
// the schedule and the dead node's revocations, and every revocation
// succeeds exactly once (checkExactlyOnce).
func TestTwoNodesPostgres(t *testing.T) {
	t.Parallel()
	pgRestart.RLock()
	defer pgRestart.RUnlock()
	const leavers, allocation = 5000, 32
	tg := scimtarget.Start(t)
	r := newRig(t, rigOptions{db: pgtarget.Start(t), target: tg, leavers: leavers, allocation: allocation, extraRules: pulseRule})
	r.prepare()

	a, b := r.startNode("a"), r.startNode("b")
	started := time.Now()
	r.waitFor("a fifth succeeded, with work done by both nodes", 3*time.Minute, func(n map[store.RevocationState]int) bool {
		return n[store.Succeeded] >= leavers/5 && len(a.succeeded()) > 0 && len(b.succeeded()) > 0
	})
	leader, others := r.leader(a, b)
	survivor := others[0]
	leader.kill()
	killed := time.Now()
	at := r.counts()
	inFlight := r.mustRunning()
	byLeader, bySurvivor := len(leader.succeeded()), len(survivor.succeeded())
	t.Logf("killed the leader %s after %s with %v; %d in flight; %s had logged %d successes, %s %d",
		leader.name, killed.Sub(started).Round(time.Millisecond), at, len(inFlight), leader.name, byLeader, survivor.name, bySurvivor)
	if at[store.Succeeded] >= leavers {
		t.Fatal("the nodes finished before the kill: nothing was left to recover")
	}
	if len(inFlight) > 2*allocation {
		t.Errorf("%d revocations running at the kill, more than two nodes' allocation size %d", len(inFlight), allocation)
	}

	r.waitFor("every revocation terminal on the survivor", rescueWait, allTerminal)
	t.Logf("the survivor finished %s after the kill", time.Since(killed).Round(time.Millisecond))
	survivor.stop()
	h := r.checkExactlyOnce(func(id int64, _ time.Time) bool { return inFlight[id] })
	// No revocation was carried out by both nodes. Between recording a
	// success and logging it a node can die, so the logs may miss up to the
	// leader's in-flight revocations, not more.
	done := map[int64]string{}
	for _, n := range []*node{leader, survivor} {
		for _, id := range n.succeeded() {
			if other, ok := done[id]; ok {
				t.Errorf("revocation %d succeeded on %s and on %s", id, other, n.name)
			}
			done[id] = n.name
			// The audit names the node that carried it out.
			if got, want := h.succeededBy[id], "worker:"+n.name; got != want {
				t.Errorf("revocation %d: the node %s logged its success, the audit names %q", id, n.name, got)
			}
		}
	}
	if len(done) < leavers-len(inFlight) {
		t.Errorf("the nodes logged %d successes, want at least %d", len(done), leavers-len(inFlight))
	}
	r.checkPulse(killed)
}

// checkPulse asserts that the pulse rule's schedule fired once per fire
// time across the cluster, from River's jobs and deprov's runs: every job
// is for a fire time of the schedule, no fire time has two jobs or two
// runs, every completed job left exactly one run for its fire time (a job
// interrupted by the kill and taken up again finds the run it stored), and
// no run is for a fire time without a job. While a leader was alive no fire
// time was missed; after the kill the survivor fires again once it has
// taken the leadership over.
func (r *rig) checkPulse(killed time.Time) {
	t := r.t
	t.Helper()
	rows, err := r.db().QueryContext(context.Background(), `SELECT args->>'fireAt', state, attempt FROM river_job
		WHERE kind = 'deprov_rule_run' AND args->>'ruleId' = 'pulse'`)
	if err != nil {
		t.Fatal(err)
	}
	type job struct {
		state   string
		attempt int
	}
	jobs := map[time.Time]job{}
	var fires []time.Time
	for rows.Next() {
		var fireAt sql.NullString
		var j job
		if err := rows.Scan(&fireAt, &j.state, &j.attempt); err != nil {
			t.Fatal(err)
		}
		fire, err := time.Parse(time.RFC3339Nano, fireAt.String)
		if err != nil {
			t.Fatalf("a pulse job without a fire time (%q): %v", fireAt.String, err)
		}
		fire = fire.UTC()
		if !fire.Equal(fire.Truncate(2 * time.Second)) {
			t.Errorf("a pulse job for %s, not a fire time of 0/2 * * * * ?", fire.Format(time.RFC3339Nano))
		}
		if _, dup := jobs[fire]; dup {
			t.Errorf("fire time %s has two jobs: two nodes fired it", fire.Format(time.RFC3339))
		}
		if j.attempt > 1 {
			t.Logf("pulse job for %s was taken up again (attempt %d, %s)", fire.Format(time.TimeOnly), j.attempt, j.state)
		}
		jobs[fire] = j
		fires = append(fires, fire)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(fires) == 0 {
		t.Fatal("the pulse rule never fired")
	}
	slices.SortFunc(fires, time.Time.Compare)

	var runs []store.Run
	r.deprovJSON(&runs, "runs", "list", "--rule", "pulse", "--limit", "100000")
	runsAt := map[time.Time]int{}
	for _, run := range runs {
		if run.Trigger != "schedule" || run.State != store.RunCompleted || run.FireAt.IsZero() {
			t.Errorf("pulse run %d: trigger %s, state %s, fire time %s", run.ID, run.Trigger, run.State, run.FireAt)
		}
		runsAt[run.FireAt.UTC()]++
		if _, ok := jobs[run.FireAt.UTC()]; !ok {
			t.Errorf("pulse run %d is for fire time %s, which has no job", run.ID, run.FireAt.Format(time.RFC3339))
		}
	}
	var missed []string
	var lastBefore, firstAfter time.Time
	for i, fire := range fires {
		n := runsAt[fire]
		if n > 1 || (jobs[fire].state == "completed" && n != 1) {
			t.Errorf("fire time %s (job %s): %d runs, want one", fire.Format(time.RFC3339), jobs[fire].state, n)
		}
		if i > 0 && fire.Before(killed) && fire.Sub(fires[i-1]) != 2*time.Second {
			missed = append(missed, fmt.Sprintf("%s–%s", fires[i-1].Format(time.TimeOnly), fire.Format(time.TimeOnly)))
		}
		if fire.Before(killed) {
			lastBefore = fire
		} else if firstAfter.IsZero() {
			firstAfter = fire
		}
	}
	if len(missed) > 0 {
		t.Errorf("fire times missed while a leader was alive: gaps %v", missed)
	}
	if firstAfter.IsZero() {
		t.Error("the schedule never fired after the leader died: the survivor did not take it over")
	}
	t.Logf("pulse: %d fire times, %d runs; last fire before the kill %s, first after %s (failover %s)",
		len(fires), len(runs), lastBefore.Format(time.TimeOnly), firstAfter.Format(time.TimeOnly), firstAfter.Sub(lastBefore))
}
