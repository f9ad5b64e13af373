package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	_ "github.com/deprov/deprov/connector/ldap"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/internal/ldaptarget"
	"github.com/deprov/deprov/rule"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/sqlite"
)

func feed(n int, status func(i int) string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%d,u%04d,%s,,eng\n", i, i, status(i))
	}
	return b.String()
}

// TestMassTerminationIsStopped: a feed marking 90 % of 1,000 identities
// terminated is held by the feed guard; once approved, the rule's run is
// quarantined and the target sees no change; approving the run carries
// out exactly the planned revocations.
func TestMassTerminationIsStopped(t *testing.T) {
	t.Parallel()
	const n = 1000
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("u%04d", i)
	}
	b := setupWith(t, opts{users: users, csv: feed(n, func(int) string { return "ACTIVE" }), realClock: true, config: `rules:
  - id: leavers
    trigger: {statuses: [TERMINATED]}
    processAllocationSize: 32
    safety: {maxPercent: 5}
applications:
  - id: app
    connector: {type: scim, url: "{{URL}}", token: "{{TOKEN}}", pageSize: 500}
`})
	b.prepare(t)
	b.start(t)

	b.writeCSV(t, feed(n, func(i int) string {
		if i%10 == 0 {
			return "ACTIVE"
		}
		return "TERMINATED"
	}))
	rep, err := b.e.Sync(b.ctx, "hr", "test")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Held == nil || !strings.Contains(rep.Held.Reason, "900 of 1000") {
		t.Fatalf("sync = %+v, want held: 900 of 1000 changed", rep)
	}
	if c, _ := b.st.CountIdentities(b.ctx, store.IdentityQuery{}); c != n {
		t.Fatalf("%d identities", c)
	}
	if id, _ := b.st.Identity(b.ctx, "hr/1"); id.Status != "ACTIVE" {
		t.Fatalf("held feed applied: hr/1 is %s", id.Status)
	}
	if _, err := b.e.ApproveSync(b.ctx, rep.Held.ID, "cli:hr-lead"); err != nil {
		t.Fatal(err)
	}

	mark := time.Now()
	run := b.run(t, "leavers")
	if run.State != store.RunQuarantined || run.Counts.Planned != 900 {
		t.Fatalf("run %s with %d planned, want quarantined with 900", run.State, run.Counts.Planned)
	}
	if revs, _ := b.st.ListRevocations(b.ctx, store.RevocationQuery{}); len(revs) != 0 {
		t.Fatalf("%d revocations scheduled by a quarantined run", len(revs))
	}
	if reqs := since(b.target.Requests(t), mark); len(reqs) != 0 {
		t.Fatalf("the target received %d requests during a quarantined run (%+v), want none", len(reqs), reqs[0])
	}

	approved, err := b.e.Approve(b.ctx, run.ID, "cli:ciso")
	if err != nil {
		t.Fatal(err)
	}
	if approved.State != store.RunApproved {
		t.Fatalf("state %s after approval", approved.State)
	}
	b.waitLong(t, run.ID, 3*time.Minute)
	revs, err := b.st.ListRevocations(b.ctx, store.RevocationQuery{RunID: run.ID})
	if err != nil {
		t.Fatal(err)
	}
	planned := map[string]bool{}
	for _, it := range run.Items {
		if it.Planned() {
			planned[it.IdentityID] = true
		}
	}
	if len(revs) != 900 {
		t.Fatalf("%d revocations, want exactly the 900 planned", len(revs))
	}
	for _, r := range revs {
		if r.State != store.Succeeded || !planned[r.IdentityID] {
			t.Fatalf("revocation %+v: want succeeded and in the plan", r)
		}
	}
	if p := patches(since(b.target.Requests(t), mark)); len(p) != 900 {
		t.Fatalf("the target received %d changes, want 900", len(p))
	}
	n2 := actions(t, b.st)
	if n2["source.held"] != 1 || n2["source.approved"] != 1 || n2["run.quarantined"] != 1 || n2["run.approved"] != 1 {
		t.Errorf("audit = %v", n2)
	}
}

// TestEmptyFeedIsHeld: a delivery with no rows, where the source has
// identities, changes nothing until approved; rejecting it discards it.
func TestEmptyFeedIsHeld(t *testing.T) {
	t.Parallel()
	b := setup(t, "1,alice,ACTIVE,,eng\n2,bob,ACTIVE,,eng\n", leavers("0"))
	b.prepare(t)
	b.writeCSV(t, "")
	rep, err := b.e.Sync(b.ctx, "hr", "test")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Held == nil || !strings.Contains(rep.Held.Reason, "no rows") || rep.Created+rep.Updated+rep.Unchanged != 0 {
		t.Fatalf("sync = %+v, want held for having no rows", rep)
	}
	if c, _ := b.st.CountIdentities(b.ctx, store.IdentityQuery{}); c != 2 {
		t.Fatalf("%d identities after a held empty feed, want 2", c)
	}
	if _, err := b.e.RejectSync(b.ctx, rep.Held.ID, "export job failed", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.ApproveSync(b.ctx, rep.Held.ID, "test"); err == nil {
		t.Fatal("approved a rejected delivery")
	}
}

// TestUndoRestoresAccountAndGroups: undo of a run re-enables a disabled
// SCIM account and restores the group memberships a revoke removed, in
// the real target, as an audited run of its own.
func TestUndoRestoresAccountAndGroups(t *testing.T) {
	t.Parallel()
	b := setupWith(t, opts{users: []string{"alice", "bob"}, groups: map[string][]string{"engineering": {"alice", "bob"}, "admins": {"bob"}},
		csv: "1,alice,ACTIVE,,eng\n2,bob,TERMINATED,,eng\n", config: `rules:
  - id: leavers
    trigger: {statuses: [TERMINATED]}
    action: {default: disable, applications: {groups: revoke}}
applications:
  - id: app
    connector: {type: scim, url: "{{URL}}", token: "{{TOKEN}}"}
  - id: groups
    connector: {type: scim, url: "{{URL}}", token: "{{TOKEN}}"}
`})
	b.prepare(t, "app", "groups")
	b.start(t)
	run := b.run(t, "leavers")
	b.wait(t, run.ID)
	if b.active(t, "bob") {
		t.Fatal("bob not disabled")
	}
	for _, g := range b.groupIDs {
		if slices.Contains(b.target.GroupMembers(t, g), b.ids["bob"]) {
			t.Fatal("bob still in a group after revoke")
		}
	}
	res, err := b.e.Undo(b.ctx, run.ID, "cli:ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Restoring) != 2 || len(res.NotUndoable) != 0 {
		t.Fatalf("undo = %+v, want 2 restoring", res)
	}
	b.wait(t, res.Run.ID)
	if !b.active(t, "bob") {
		t.Error("bob not re-enabled")
	}
	for _, g := range b.groupIDs {
		if !slices.Contains(b.target.GroupMembers(t, g), b.ids["bob"]) {
			t.Errorf("bob not back in group %s", g)
		}
	}
	if !slices.Contains(b.target.GroupMembers(t, b.groupIDs[0]), b.ids["alice"]) && !slices.Contains(b.target.GroupMembers(t, b.groupIDs[1]), b.ids["alice"]) {
		t.Error("alice lost her group")
	}
	n := actions(t, b.st)
	if n["run.undo"] != 1 {
		t.Errorf("audit = %v, want a run.undo", n)
	}
	if _, err := b.e.Undo(b.ctx, res.Run.ID, "cli:ops"); err == nil {
		t.Error("undoing an undo run succeeded")
	}
}

// TestAuditVerifyNamesAlteredEvent: a row altered directly in the
// database fails verification at that event; the untouched log verifies.
func TestAuditVerifyNamesAlteredEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, "2,bob,TERMINATED,,eng\n", leavers("0"))
	b.prepare(t)
	b.start(t)
	run := b.run(t, "leavers")
	b.wait(t, run.ID)
	res, err := b.e.VerifyAudit(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Broken != nil || res.Events < 6 {
		t.Fatalf("untouched log: %+v", res)
	}
	db := b.st.(*sqlite.Store).DB()
	if _, err := db.ExecContext(b.ctx, `UPDATE audit SET message = 'nothing happened here' WHERE seq = 4`); err != nil {
		t.Fatal(err)
	}
	res, err = b.e.VerifyAudit(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Broken == nil || res.Broken.Seq != 4 || res.Events != 3 {
		t.Fatalf("after tampering: %+v, want broken at event 4", res)
	}
	var csv strings.Builder
	if err := b.e.ExportAudit(b.ctx, store.AuditQuery{RuleID: "leavers"}, "csv", &csv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "revocation.succeeded") || !strings.Contains(csv.String(), "#chain-head") {
		t.Fatalf("export lacks the evidence:\n%s", csv.String())
	}
}

// TestExclusionExpires: an exclusion with `until` keeps the application
// out of the plan until the injected clock passes it.
func TestExclusionExpires(t *testing.T) {
	t.Parallel()
	b := setupWith(t, opts{users: []string{"bob"}, csv: "2,bob,TERMINATED,,eng\n", config: `rules:
  - id: leavers
    trigger: {statuses: [TERMINATED]}
    excludeApplications: [{application: app, reason: "payslips for 90 days", until: "2026-12-01"}]
`})
	b.prepare(t)
	dry := func() rule.Item {
		t.Helper()
		run, err := b.e.Run(b.ctx, "leavers", engineDry)
		if err != nil {
			t.Fatal(err)
		}
		if len(run.Items) != 1 {
			t.Fatalf("items %+v", run.Items)
		}
		return run.Items[0]
	}
	if it := dry(); it.Skip != rule.SkipExcluded || !strings.Contains(it.Reason, "payslips") {
		t.Fatalf("before until: %+v, want excluded", it)
	}
	b.clock.Add(5 * 24 * time.Hour) // 2026-12-01T09:00Z
	if it := dry(); !it.Planned() || !strings.Contains(it.Reason, "exclusion of app expired") {
		t.Fatalf("after until: %+v, want planned, saying the exclusion expired", it)
	}
}

// TestUndoRestoresLDAPLock: undo of a run that locked an LDAP account
// (ppolicy pwdAccountLockedTime) in a real slapd unlocks it: the user can
// bind again.
func TestUndoRestoresLDAPLock(t *testing.T) {
	t.Parallel()
	dir := ldaptarget.Start(t)
	bobDN := dir.AddUser(t, "bob", "bob-secret")
	dir.AddUser(t, "alice", "alice-secret")
	dir.AddGroup(t, "staff", bobDN)
	b := setupWith(t, opts{csv: "1,alice,ACTIVE,,eng\n2,bob,TERMINATED,,eng\n", config: `rules:
  - id: leavers
    trigger: {statuses: [TERMINATED]}
applications:
  - id: directory
    connector:
      type: ldap
      url: ` + dir.URL + `
      bindDN: ` + ldaptarget.AdminDN + `
      bindPassword: "` + dir.AdminPassword + `"
      baseDN: ` + ldaptarget.PeopleDN + `
      groupBaseDN: ` + ldaptarget.GroupsDN + `
      disableMode: lock
    correlation: {account: uid, identity: userName}
`})
	b.prepare(t, "directory")
	b.start(t)
	run := b.run(t, "leavers")
	if run.Counts.Planned != 1 {
		t.Fatalf("planned %d, want bob's lock", run.Counts.Planned)
	}
	b.wait(t, run.ID)
	if dir.CanBind(t, bobDN, "bob-secret") {
		t.Fatal("bob can still bind after the lock")
	}
	res, err := b.e.Undo(b.ctx, run.ID, "cli:ops")
	if err != nil {
		t.Fatal(err)
	}
	b.wait(t, res.Run.ID)
	if !dir.CanBind(t, bobDN, "bob-secret") {
		t.Fatal("bob still cannot bind after undo")
	}
	if groups := dir.GroupsOf(t, bobDN); len(groups) != 1 {
		t.Fatalf("bob's groups after undo: %v, want staff", groups)
	}
}

// TestRemovedRuleLeavesNothingStranded: a rule removed while it has
// revocations waiting out their grace period, and a run undone after its
// rule was removed, on a node started after the removal: the waiting
// revocation is cancelled with the reason when it comes due, and the undo
// restores the account. Neither is left waiting in a queue no node works.
func TestRemovedRuleLeavesNothingStranded(t *testing.T) {
	t.Parallel()
	b := setupWith(t, opts{users: []string{"bob", "carol"}, csv: "2,bob,TERMINATED,,eng\n3,carol,NOTICE,,eng\n", config: `rules:
  - id: leavers
    trigger: {statuses: [TERMINATED]}
  - id: notice
    trigger: {statuses: [NOTICE]}
    gracePeriodDays: 7
`})
	b.prepare(t)
	b.start(t)
	leavers := b.run(t, "leavers")
	b.wait(t, leavers.ID)
	if b.active(t, "bob") {
		t.Fatal("bob not disabled")
	}
	notice := b.run(t, "notice")
	if notice.Counts.Planned != 1 {
		t.Fatalf("notice planned %d, want 1", notice.Counts.Planned)
	}
	if err := b.e.Stop(b.ctx); err != nil {
		t.Fatal(err)
	}

	cfg, _, err := b.st.Config(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rules = nil
	if _, err := b.e.Apply(b.ctx, cfg, "test", false); err != nil {
		t.Fatal(err)
	}
	undo, err := b.e.Undo(b.ctx, leavers.ID, "cli:ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(undo.Restoring) != 1 {
		t.Fatalf("undo = %+v, want bob's account restoring", undo)
	}

	b.start(t) // a node that never saw the rules
	b.wait(t, undo.Run.ID)
	if !b.active(t, "bob") {
		t.Error("bob not re-enabled by the undo of a removed rule's run")
	}
	b.clock.Add(8 * 24 * time.Hour)
	b.wait(t, notice.ID)
	revs, err := b.st.ListRevocations(b.ctx, store.RevocationQuery{RunID: notice.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 1 || revs[0].State != store.Cancelled || !strings.Contains(revs[0].CancelReason, "rule notice was removed") {
		t.Fatalf("carol's revocation = %+v, want cancelled because the rule was removed", revs)
	}
	if !b.active(t, "carol") {
		t.Error("carol disabled by a removed rule")
	}
}

// TestUndoWhileRunningChangesNothing: an undo of a run with a revocation
// being carried out is refused and changes nothing; once that revocation
// has failed after changing part of the account, the undo cancels the
// scheduled rest and restores the failed one from what it recorded.
func TestUndoWhileRunningChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, "2,bob,TERMINATED,,engineering\n3,carol,TERMINATED,,finance\n", leavers("7"))
	b.prepare(t)
	run := b.run(t, "leavers")
	revs, err := b.st.ListRevocations(b.ctx, store.RevocationQuery{RunID: run.ID})
	if err != nil || len(revs) != 2 {
		t.Fatalf("revocations %+v, %v", revs, err)
	}
	scheduled := []store.RevocationState{store.Scheduled}
	running := []store.RevocationState{store.Running}
	before := account.Account{ApplicationID: revs[0].ApplicationID, NativeID: revs[0].AccountID, State: account.Active}
	one := 1
	if _, err := b.st.UpdateRevocation(b.ctx, revs[0].ID, scheduled, store.RevocationUpdate{State: store.Running, Attempts: &one, Before: &before}, audit.Event{Action: "revocation.running"}); err != nil {
		t.Fatal(err)
	}
	_, err = b.e.Undo(b.ctx, run.ID, "cli:ops")
	if !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), "being carried out right now") {
		t.Fatalf("undo while running: %v, want a refusal", err)
	}
	if r, _ := b.st.Revocation(b.ctx, revs[1].ID); r.State != store.Scheduled {
		t.Fatalf("the refused undo changed revocation %d to %s", r.ID, r.State)
	}
	if runs, _ := b.st.ListRuns(b.ctx, store.RunQuery{RuleID: "leavers"}); len(runs) != 1 {
		t.Fatalf("%d runs after a refused undo, want 1", len(runs))
	}

	msg := "503 after removing one group"
	if _, err := b.st.UpdateRevocation(b.ctx, revs[0].ID, running, store.RevocationUpdate{State: store.Failed, LastError: &msg}, audit.Event{Action: "revocation.failed"}); err != nil {
		t.Fatal(err)
	}
	res, err := b.e.Undo(b.ctx, run.ID, "cli:ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cancelled) != 1 || res.Cancelled[0].ID != revs[1].ID || len(res.Restoring) != 1 || res.Restoring[0].UndoOf != revs[0].ID {
		t.Fatalf("undo = %+v, want %d cancelled and %d restored", res, revs[1].ID, revs[0].ID)
	}
}

// TestMissingStatus: a csv source whose file lists only active staff says
// so with missingStatus: an identity the file no longer lists gets that
// status at the sync and the rule deprovisions it; the feed guard counts
// those changes, so a truncated file is held; an import changes no one it
// does not list.
func TestMissingStatus(t *testing.T) {
	t.Parallel()
	var rows strings.Builder
	for i := range 25 {
		fmt.Fprintf(&rows, "%d,u%02d,ACTIVE,,eng\n", i, i)
	}
	b := setup(t, rows.String(), leavers("0"))
	b.prepare(t)
	cfg, _, err := b.st.Config(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sources[0].MissingStatus = "TERMINATED"
	if _, err := b.e.Apply(b.ctx, cfg, "test", false); err != nil {
		t.Fatal(err)
	}
	status := func(key string) string {
		t.Helper()
		id, err := b.st.Identity(b.ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return id.Status
	}

	// u24 left: the file lists the other 24.
	b.writeCSV(t, strings.Replace(rows.String(), "24,u24,ACTIVE,,eng\n", "", 1))
	rep, err := b.e.Sync(b.ctx, "hr", "test")
	if err != nil || rep.Held != nil || rep.StatusChanged != 1 {
		t.Fatalf("sync = %+v, %v, want u24's status changed", rep, err)
	}
	if got := status("hr/24"); got != "TERMINATED" {
		t.Fatalf("u24 is %q, want TERMINATED", got)
	}
	run := b.run(t, "leavers")
	if run.Counts.Matched != 1 || run.Items[0].UserName != "u24" {
		t.Fatalf("run matched %d (%+v), want u24", run.Counts.Matched, run.Items)
	}

	// A file cut short after 5 rows would terminate 19 more: held.
	var short strings.Builder
	for i := range 5 {
		fmt.Fprintf(&short, "%d,u%02d,ACTIVE,,eng\n", i, i)
	}
	b.writeCSV(t, short.String())
	rep, err = b.e.Sync(b.ctx, "hr", "test")
	if err != nil || rep.Held == nil || rep.Held.Rows != 5 || !strings.Contains(rep.Held.Reason, "19 of 25") {
		t.Fatalf("sync of a short file = %+v, %v, want held naming 19 of 25", rep, err)
	}
	if got := status("hr/10"); got != "ACTIVE" {
		t.Fatalf("u10 is %q after a held delivery, want ACTIVE", got)
	}

	// An import adds to the source; it marks no one missing.
	if _, err := b.e.Import(b.ctx, "hr", strings.NewReader(hrHeader+"99,newbie,ACTIVE,,eng\n"), "one.csv", "test"); err != nil {
		t.Fatal(err)
	}
	if got := status("hr/10"); got != "ACTIVE" {
		t.Fatalf("u10 is %q after an import, want ACTIVE", got)
	}
}

// TestUndoRestoresWhatTheRevokeRemoved: the target's groups changed after
// the last aggregation (bob left "admins" and joined "oncall"). The revoke
// removes what the target holds, and the undo puts back exactly that:
// "oncall", not the "admins" membership the aggregation remembered, which
// an administrator had removed on purpose.
func TestUndoRestoresWhatTheRevokeRemoved(t *testing.T) {
	t.Parallel()
	b := setupWith(t, opts{users: []string{"alice", "bob"}, groups: map[string][]string{"admins": {"alice", "bob"}, "oncall": {"alice"}},
		csv: "1,alice,ACTIVE,,eng\n2,bob,TERMINATED,,eng\n", config: `rules:
  - id: leavers
    trigger: {statuses: [TERMINATED]}
    action: revoke
`})
	b.prepare(t)
	admins, oncall := b.groupIDs[0], b.groupIDs[1]
	if len(b.target.GroupMembers(t, admins)) != 2 {
		admins, oncall = oncall, admins // map order: find which is which
	}
	b.target.SetMembers(t, admins, b.ids["alice"])
	b.target.SetMembers(t, oncall, b.ids["alice"], b.ids["bob"])
	b.start(t)
	run := b.run(t, "leavers")
	b.wait(t, run.ID)
	if slices.Contains(b.target.GroupMembers(t, oncall), b.ids["bob"]) {
		t.Fatal("bob still in oncall after the revoke")
	}
	res, err := b.e.Undo(b.ctx, run.ID, "cli:ops")
	if err != nil {
		t.Fatal(err)
	}
	b.wait(t, res.Run.ID)
	if !slices.Contains(b.target.GroupMembers(t, oncall), b.ids["bob"]) {
		t.Error("the undo did not put bob back into oncall, which the revoke removed")
	}
	if slices.Contains(b.target.GroupMembers(t, admins), b.ids["bob"]) {
		t.Error("the undo put bob back into admins, which he had left before the revoke")
	}
}

// TestUndoLeavesAnAccountDisabledByHand: bob's account was disabled in the
// target by its administrator after the last aggregation. deprov's disable
// finds it so (already done), and the undo does not turn it back on.
func TestUndoLeavesAnAccountDisabledByHand(t *testing.T) {
	t.Parallel()
	b := setup(t, "2,bob,TERMINATED,,engineering\n", leavers("0"))
	b.prepare(t)
	b.target.SetActive(t, b.ids["bob"], false)
	b.start(t)
	run := b.run(t, "leavers")
	b.wait(t, run.ID)
	res, err := b.e.Undo(b.ctx, run.ID, "cli:ops")
	if err != nil {
		t.Fatal(err)
	}
	b.wait(t, res.Run.ID)
	if b.active(t, "bob") {
		t.Error("the undo enabled an account that was disabled before deprov touched it")
	}
}

// TestIdentityEvidence: an export for one identity holds its own events and
// those of the run that planned its revocations (rule, exclusions,
// approval), and nobody else's.
func TestIdentityEvidence(t *testing.T) {
	t.Parallel()
	b := setup(t, "2,bob,TERMINATED,,eng\n3,carol,TERMINATED,,eng\n", leavers("0"))
	b.prepare(t)
	b.start(t)
	run := b.run(t, "leavers")
	b.wait(t, run.ID)
	var out strings.Builder
	if err := b.e.ExportAudit(b.ctx, store.AuditQuery{IdentityID: "hr/2"}, "json", &out); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Events []audit.Event `json:"events"`
		Count  int           `json:"count"`
	}
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, out.String())
	}
	actions := map[string]int{}
	for i, ev := range doc.Events {
		if i > 0 && ev.Seq <= doc.Events[i-1].Seq {
			t.Fatalf("events out of chain order at %d", ev.Seq)
		}
		if ev.IdentityID != "" && ev.IdentityID != "hr/2" {
			t.Fatalf("bob's evidence holds an event of %s: %+v", ev.IdentityID, ev)
		}
		actions[ev.Action]++
	}
	if actions["run.completed"] != 1 || actions["revocation.scheduled"] != 1 || actions["revocation.succeeded"] != 1 || doc.Count != len(doc.Events) {
		t.Fatalf("bob's evidence: %v (count %d), want his run and his revocation's events", actions, doc.Count)
	}
}
