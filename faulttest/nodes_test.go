package faulttest

import (
	"context"
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
	r.checkExactlyOnce(func(id int64, _ time.Time) bool { return inFlight[id] })
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
		}
	}
	if len(done) < leavers-len(inFlight) {
		t.Errorf("the nodes logged %d successes, want at least %d", len(done), leavers-len(inFlight))
	}
	r.checkPulse(killed)
}

// pulseJob is the job River's leader inserted for one fire time of the
// pulse rule.
type pulseJob struct {
	// fire is the fire time. It is the job's scheduled_at until the job is
	// retried (a rescue after a crash moves scheduled_at to the retry);
	// then it is recovered from created_at, which the leader sets at most
	// 100 ms before the fire time.
	fire        time.Time
	scheduled   time.Time
	state       string
	attempt     int
	runsInFirst int // runs that started within 2 s of the fire time
}

// checkPulse asserts that the pulse rule's schedule fired once per fire
// time across the cluster: exactly one job per fire time, whichever node
// led, and one run per job. The one allowed exception is River's
// at-least-once rescue: a job whose run was interrupted by the kill runs
// again, and may leave one extra run. While a leader was alive no fire time
// was missed; after the kill the survivor fires again once it has taken
// the leadership over.
func (r *rig) checkPulse(killed time.Time) {
	t := r.t
	t.Helper()
	rows, err := r.db().QueryContext(context.Background(), `SELECT scheduled_at, created_at, state, attempt FROM river_job
		WHERE kind = 'deprov_rule_run' AND args->>'ruleId' = 'pulse'`)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []*pulseJob
	for rows.Next() {
		j := &pulseJob{}
		var created time.Time
		if err := rows.Scan(&j.scheduled, &created, &j.state, &j.attempt); err != nil {
			t.Fatal(err)
		}
		j.fire = j.scheduled
		if j.attempt > 1 {
			j.fire = created.Add(100 * time.Millisecond).Truncate(2 * time.Second)
		}
		if j.fire.Nanosecond() != 0 || j.fire.Second()%2 != 0 {
			t.Errorf("a pulse job for %s, not a fire time of 0/2 * * * * ?", j.fire.Format(time.RFC3339Nano))
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(jobs) == 0 {
		t.Fatal("the pulse rule never fired")
	}
	slices.SortFunc(jobs, func(a, b *pulseJob) int { return a.fire.Compare(b.fire) })

	var runs []store.Run
	r.deprovJSON(&runs, "runs", "list", "--rule", "pulse", "--limit", "100000")
	for _, run := range runs {
		if run.Trigger != "schedule" || run.State != store.RunCompleted {
			t.Errorf("pulse run %d: trigger %s, state %s", run.ID, run.Trigger, run.State)
		}
	}
	completed, rescued := 0, rescuedCount(jobs)
	var missed []string
	var lastBefore, firstAfter time.Time
	for i, j := range jobs {
		if i > 0 && j.fire.Equal(jobs[i-1].fire) {
			t.Errorf("fire time %s has two jobs: two nodes fired it", j.fire.Format(time.RFC3339))
		}
		if j.state == "completed" {
			completed++
		}
		if j.attempt > 1 {
			t.Logf("pulse job for %s was retried (attempt %d, %s): interrupted by the kill", j.fire.Format(time.TimeOnly), j.attempt, j.state)
		}
		for _, run := range runs {
			if !run.StartedAt.Before(j.fire) && run.StartedAt.Before(j.fire.Add(2*time.Second)) {
				j.runsInFirst++
			}
		}
		// A job that ran once, on time, left one run in its 2 s; one run more
		// there can only be a rescued job's.
		if j.state == "completed" && j.attempt == 1 && (j.runsInFirst == 0 || j.runsInFirst > 1+rescued) {
			t.Errorf("fire time %s: %d runs started within 2 s", j.fire.Format(time.RFC3339), j.runsInFirst)
		}
		if i > 0 && j.fire.Before(killed) && j.fire.Sub(jobs[i-1].fire) != 2*time.Second {
			missed = append(missed, fmt.Sprintf("%s–%s", jobs[i-1].fire.Format(time.TimeOnly), j.fire.Format(time.TimeOnly)))
		}
		if j.fire.Before(killed) {
			lastBefore = j.fire
		} else if firstAfter.IsZero() {
			firstAfter = j.fire
		}
	}
	if len(runs) < completed || len(runs) > completed+rescued {
		t.Errorf("%d pulse runs for %d completed jobs (%d of them rescued): the schedule ran more or less often than it fired", len(runs), completed, rescued)
	}
	if len(missed) > 0 {
		t.Errorf("fire times missed while a leader was alive: gaps %v", missed)
	}
	if firstAfter.IsZero() {
		t.Error("the schedule never fired after the leader died: the survivor did not take it over")
	}
	t.Logf("pulse: %d fire times, %d runs; last fire before the kill %s, first after %s (failover %s)",
		len(jobs), len(runs), lastBefore.Format(time.TimeOnly), firstAfter.Format(time.TimeOnly), firstAfter.Sub(lastBefore))
}

func rescuedCount(jobs []*pulseJob) int {
	n := 0
	for _, j := range jobs {
		if j.attempt > 1 {
			n++
		}
	}
	return n
}
