package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
	_ "github.com/deprov/deprov/connector/scim"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/internal/scimtarget"
	"github.com/deprov/deprov/internal/testdb"
	"github.com/deprov/deprov/internal/testkit"
	"github.com/deprov/deprov/store"
)

// clock is a clock the test moves by hand.
type clock = testkit.Clock

// bundle is what an end-to-end test works with.
type bundle struct {
	ctx    context.Context
	clock  *clock
	st     store.Store
	e      *engine.Engine
	target *scimtarget.Target
	dir    string
	ids    map[string]string // userName → id in the target
	// groupIDs are the target's groups, in the order created.
	groupIDs []string
}

const hrHeader = "employee_id,login,status,end_date,department\n"

// opts shape a test bundle.
type opts struct {
	// users are created in the SCIM target; groups map a group to members.
	users  []string
	groups map[string][]string
	// csv is the HR feed after its header.
	csv string
	// config is the YAML after the hr source; {{URL}} and {{TOKEN}} name the
	// SCIM target. Without an "applications:" key one application "app" is added.
	config string
	// realClock leaves the engine on the real clock (River timing tests).
	realClock bool
	// attemptTimeout is the engine's (zero: its default).
	attemptTimeout time.Duration
}

func setup(t *testing.T, csv string, ruleYAML string) *bundle {
	return setupWith(t, opts{users: []string{"alice", "bob", "carol", "dave"},
		groups: map[string][]string{"engineering": {"alice", "bob"}}, csv: csv, config: "rules:\n" + ruleYAML})
}

func setupWith(t *testing.T, o opts) *bundle {
	t.Helper()
	b := &bundle{ctx: context.Background(), dir: t.TempDir(), ids: map[string]string{}}
	b.target = scimtarget.Start(t)
	for _, u := range o.users {
		b.ids[u] = b.target.CreateUser(t, u, true)
	}
	for g, members := range o.groups {
		var ids []string
		for _, m := range members {
			ids = append(ids, b.ids[m])
		}
		b.groupIDs = append(b.groupIDs, b.target.CreateGroup(t, g, ids...))
	}
	// A fixed clock, so that grace periods and River's scheduling move only
	// when the test moves it.
	b.clock = &clock{T: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	now := b.clock.Now
	if o.realClock {
		now = nil
	}
	st := testdb.SQLite(t, b.dir, now)
	b.st = st
	e, err := engine.New(engine.Options{Store: st, Now: now, PollInterval: 20 * time.Millisecond, AttemptTimeout: o.attemptTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	b.e = e
	b.writeCSV(t, o.csv)
	cfgYAML := `
sources:
  - id: hr
    type: csv
    path: ` + filepath.Join(b.dir, "hr.csv") + `
    columns: {externalId: employee_id, userName: login, status: status, endDate: end_date, department: department}
` + o.config
	if !strings.Contains(o.config, "applications:") {
		cfgYAML += `
applications:
  - id: app
    connector: {type: scim, url: "{{URL}}", token: "{{TOKEN}}", pageSize: 2}
    correlation: {account: userName, identity: userName}
`
	}
	cfgYAML = strings.NewReplacer("{{URL}}", b.target.URL, "{{TOKEN}}", b.target.Token).Replace(cfgYAML)
	cfg, err := config.Parse(strings.NewReader(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(b.ctx, cfg, "test", false); err != nil {
		t.Fatal(err)
	}
	return b
}

// prepare syncs the feed and aggregates every application.
func (b *bundle) prepare(t *testing.T, apps ...string) {
	t.Helper()
	if _, err := b.e.Sync(b.ctx, "hr", "test"); err != nil {
		t.Fatal(err)
	}
	if len(apps) == 0 {
		apps = []string{"app"}
	}
	for _, a := range apps {
		if _, err := b.e.Aggregate(b.ctx, a, "test"); err != nil {
			t.Fatal(err)
		}
	}
}

// run runs a rule and fails the test on error.
func (b *bundle) run(t *testing.T, ruleID string) store.Run {
	t.Helper()
	run, err := b.e.Run(b.ctx, ruleID, engine.RunOptions{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func (b *bundle) writeCSV(t *testing.T, csv string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, "hr.csv"), []byte(hrHeader+csv), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) start(t *testing.T) {
	t.Helper()
	if err := b.e.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.e.Stop(ctx)
	})
}

func (b *bundle) active(t testing.TB, user string) bool {
	t.Helper()
	u, found := b.target.User(t, b.ids[user])
	if !found {
		t.Fatalf("user %s gone from the target", user)
	}
	a, ok := u["active"].(bool)
	return !ok || a
}

var engineDry = engine.RunOptions{DryRun: true, Actor: "test"}

func (b *bundle) wait(t *testing.T, runID int64) {
	t.Helper()
	b.waitLong(t, runID, 30*time.Second)
}

func (b *bundle) waitLong(t *testing.T, runID int64, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := b.e.Wait(ctx, runID); err != nil {
		t.Fatal(err)
	}
}

func actions(t *testing.T, st store.Store) map[string]int {
	t.Helper()
	evs, err := st.ListAudit(context.Background(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	var prev *audit.Event
	for i := range evs {
		n[evs[i].Action]++
		if prev != nil && evs[i].PrevHash != prev.Hash {
			t.Errorf("audit chain broken at %d", evs[i].Seq)
		}
		prev = &evs[i]
	}
	return n
}

const leaversRule = `
  - id: leavers
    trigger:
      statuses: [TERMINATED]
      endDate: {offsetDays: 0}
    scope: 'user.department != "board"'
    gracePeriodDays: %d
    action: disable
`

func leavers(grace string) string { return strings.Replace(leaversRule, "%d", grace, 1) }

// TestEndToEnd: CSV with four identities (one active, one terminated, one
// past its end date, one excluded by scope) → apply → sync → aggregate →
// run with grace 0 → exactly the two leavers are disabled in the real SCIM
// target, and the audit shows each step.
func TestEndToEnd(t *testing.T) {
	b := setup(t, ""+
		"1,alice,ACTIVE,2027-06-30,engineering\n"+
		"2,bob,TERMINATED,,engineering\n"+
		"3,carol,ACTIVE,2026-11-20,finance\n"+
		"4,dave,TERMINATED,,board\n", leavers("0"))
	res, err := b.e.Sync(b.ctx, "hr", "test")
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 4 {
		t.Fatalf("sync created %d, want 4", res.Created)
	}
	agg, err := b.e.Aggregate(b.ctx, "app", "test")
	if err != nil {
		t.Fatal(err)
	}
	if agg.Accounts != 4 || agg.Correlated != 4 {
		t.Fatalf("aggregate = %+v, want 4 accounts, 4 correlated", agg)
	}
	b.start(t)
	run, err := b.e.Run(b.ctx, "leavers", engine.RunOptions{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Counts.Planned != 2 || run.Counts.Matched != 2 {
		t.Fatalf("counts = %+v, want 2 matched, 2 planned", run.Counts)
	}
	b.wait(t, run.ID)
	for user, want := range map[string]bool{"alice": true, "bob": false, "carol": false, "dave": true} {
		if got := b.active(t, user); got != want {
			t.Errorf("%s active = %v, want %v", user, got, want)
		}
	}
	revs, err := b.st.ListRevocations(b.ctx, store.RevocationQuery{RunID: run.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range revs {
		if r.State != store.Succeeded {
			t.Errorf("revocation %d of %s is %s (%s), want succeeded", r.ID, r.UserName, r.State, r.LastError)
		}
	}
	n := actions(t, b.st)
	for action, want := range map[string]int{
		"config.applied": 1, "source.synced": 1, "application.aggregated": 1, "run.completed": 1,
		"revocation.scheduled": 2, "revocation.running": 2, "revocation.succeeded": 2,
	} {
		if n[action] != want {
			t.Errorf("audit has %d %s, want %d (all: %v)", n[action], action, want, n)
		}
	}
	// The audit names the node that carried them out (by default host:pid).
	host, _ := os.Hostname()
	node := fmt.Sprintf("worker:%s:%d", host, os.Getpid())
	evs, err := b.st.ListAudit(b.ctx, store.AuditQuery{RunID: run.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if (ev.Action == "revocation.running" || ev.Action == "revocation.succeeded") && ev.Actor != node {
			t.Errorf("%s by %q, want %q", ev.Action, ev.Actor, node)
		}
	}
	// Running the rule again plans nothing new: the accounts are disabled.
	again, err := b.e.Run(b.ctx, "leavers", engine.RunOptions{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Counts.Planned != 0 {
		t.Errorf("second run planned %d, want 0: %+v", again.Counts.Planned, again.Items)
	}
}

// TestGraceAndReinstatement: with a 7-day grace period nothing happens
// before it ends; an identity reinstated during grace has its revocation
// cancelled at the next sync, with the reason; the other is carried out
// when the clock passes the end of grace.
func TestGraceAndReinstatement(t *testing.T) {
	b := setup(t, "2,bob,TERMINATED,,engineering\n3,carol,TERMINATED,,finance\n", leavers("7"))
	if _, err := b.e.Sync(b.ctx, "hr", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.Aggregate(b.ctx, "app", "test"); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	run, err := b.e.Run(b.ctx, "leavers", engine.RunOptions{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Counts.Planned != 2 {
		t.Fatalf("planned %d, want 2", run.Counts.Planned)
	}
	want := b.clock.Now().AddDate(0, 0, 7)
	for _, it := range run.Items {
		if !it.DueAt.Equal(want) {
			t.Errorf("%s due %s, want %s", it.UserName, it.DueAt, want)
		}
	}
	// Six days on, a re-run is idempotent and nothing is due yet.
	b.clock.Add(6 * 24 * time.Hour)
	again, err := b.e.Run(b.ctx, "leavers", engine.RunOptions{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Counts.Planned != 0 {
		t.Fatalf("re-run planned %d, want 0 (already scheduled)", again.Counts.Planned)
	}
	for _, it := range again.Items {
		if it.Skip != "already scheduled" {
			t.Errorf("re-run item %+v, want skip already scheduled", it)
		}
	}
	// Bob is rehired: the sync cancels his revocation at once.
	b.writeCSV(t, "2,bob,ACTIVE,,engineering\n3,carol,TERMINATED,,finance\n")
	res, err := b.e.Sync(b.ctx, "hr", "test")
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusChanged != 1 {
		t.Fatalf("status changed %d, want 1", res.StatusChanged)
	}
	cancelled, err := b.st.ListRevocations(b.ctx, store.RevocationQuery{States: []store.RevocationState{store.Cancelled}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cancelled) != 1 || cancelled[0].UserName != "bob" || !strings.Contains(cancelled[0].CancelReason, "no longer matches rule leavers (status ACTIVE)") {
		t.Fatalf("cancelled = %+v, want bob's with the reason", cancelled)
	}
	if !b.active(t, "bob") || !b.active(t, "carol") {
		t.Fatal("an account changed during grace")
	}
	// Past the grace period carol's revocation is carried out.
	b.clock.Add(24*time.Hour + time.Minute)
	b.wait(t, run.ID)
	if b.active(t, "carol") {
		t.Error("carol still active after grace")
	}
	if !b.active(t, "bob") {
		t.Error("bob was disabled although reinstated")
	}
	n := actions(t, b.st)
	if n["revocation.cancelled"] != 1 || n["revocation.succeeded"] != 1 {
		t.Errorf("audit = %v, want 1 cancelled and 1 succeeded", n)
	}
}
