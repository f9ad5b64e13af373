package engine_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/deprov/deprov/connector/manual"
	_ "github.com/deprov/deprov/connector/webhook"
	"github.com/deprov/deprov/internal/scimtarget"
	"github.com/deprov/deprov/rule"
	"github.com/deprov/deprov/store"
)

// patches returns the target's requests that change users or groups.
func patches(reqs []scimtarget.Request) []scimtarget.Request {
	var out []scimtarget.Request
	for _, r := range reqs {
		if r.Method == "PATCH" || r.Method == "DELETE" {
			out = append(out, r)
		}
	}
	return out
}

func since(reqs []scimtarget.Request, t time.Time) []scimtarget.Request {
	var out []scimtarget.Request
	for _, r := range reqs {
		if !r.Time.Before(t) {
			out = append(out, r)
		}
	}
	return out
}

func onlyRevocation(t *testing.T, b *bundle, runID int64) store.Revocation {
	t.Helper()
	revs, err := b.st.ListRevocations(b.ctx, store.RevocationQuery{RunID: runID})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 1 {
		t.Fatalf("%d revocations, want 1", len(revs))
	}
	return revs[0]
}

// TestRetryAfterHonoured: a target answering 429 with Retry-After: 2 sees
// no request before 2 s have passed, by its own request log, and the
// pause does not use up an attempt.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	b := setupWith(t, opts{users: []string{"bob"}, csv: "2,bob,TERMINATED,,eng\n", realClock: true,
		config: "rules:\n  - {id: leavers, trigger: {statuses: [TERMINATED]}}\n"})
	b.prepare(t)
	b.start(t)
	mark := time.Now().Add(-time.Millisecond)
	b.target.FailNext(t, 1, 429, map[string]string{"Retry-After": "2"})
	run := b.run(t, "leavers")
	b.wait(t, run.ID)
	reqs := since(b.target.Requests(t), mark)
	if len(reqs) < 2 || reqs[0].Status != 429 {
		t.Fatalf("requests %+v, want a 429 and then more", reqs)
	}
	for _, r := range reqs[1:] {
		if gap := r.Time.Sub(reqs[0].Time); gap < 2*time.Second {
			t.Fatalf("%s %s arrived %s after the 429, want at least 2s", r.Method, r.Path, gap)
		}
	}
	r := onlyRevocation(t, b, run.ID)
	if r.State != store.Succeeded || r.Attempts != 1 {
		t.Fatalf("revocation %s after %d attempts (%s), want succeeded after 1: Retry-After uses up none", r.State, r.Attempts, r.LastError)
	}
	if b.active(t, "bob") {
		t.Fatal("bob still active")
	}
}

// TestTargetDownThenUp: a target failing the first attempts (503) and
// answering later: the revocation ends succeeded, after backoff.
func TestTargetDownThenUp(t *testing.T) {
	t.Parallel()
	b := setupWith(t, opts{users: []string{"bob"}, csv: "2,bob,TERMINATED,,eng\n", realClock: true,
		config: "rules:\n  - {id: leavers, trigger: {statuses: [TERMINATED]}}\n"})
	b.prepare(t)
	b.start(t)
	b.target.FailNext(t, 2, 503, nil)
	run := b.run(t, "leavers")
	r := settled(t, b, run.ID, time.Minute)
	if r.State != store.Succeeded || r.Attempts != 3 {
		t.Fatalf("revocation %s after %d attempts (last error %q), want succeeded on the third", r.State, r.Attempts, r.LastError)
	}
	n := actions(t, b.st)
	if n["revocation.retrying"] != 2 {
		t.Errorf("audit has %d retrying events, want 2: %v", n["revocation.retrying"], n)
	}
}

// settled waits (polling) until the run's only revocation has succeeded
// or failed, and returns it as it ended (or as it was after within).
func settled(t *testing.T, b *bundle, runID int64, within time.Duration) store.Revocation {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := onlyRevocation(t, b, runID)
		if r.State == store.Succeeded || r.State == store.Failed || time.Now().After(deadline) {
			return r
		}
		time.Sleep(50 * time.Millisecond) // polling for the outcome
	}
}

// TestWrongTokenFailsAndRetryByHand: a 401 is not retried; the revocation
// is failed with its error, and once the token is fixed a retry by hand
// carries it out.
func TestWrongTokenFailsAndRetryByHand(t *testing.T) {
	t.Parallel()
	cfg := `rules:
  - {id: leavers, trigger: {statuses: [TERMINATED]}}
applications:
  - id: app
    connector: {type: scim, url: "{{URL}}", token: "%s"}
`
	b := setupWith(t, opts{users: []string{"bob"}, csv: "2,bob,TERMINATED,,eng\n", config: fmt.Sprintf(cfg, "{{TOKEN}}")})
	b.prepare(t)
	applyYAML(t, b.e, strings.Replace(fmt.Sprintf(cfg, "wrong-token"), "{{URL}}", b.target.URL, 1)+
		"sources:\n  - {id: hr, type: csv, path: "+b.dir+"/hr.csv, columns: {externalId: employee_id, userName: login, status: status}}\n")
	b.start(t)
	run := b.run(t, "leavers")
	b.wait(t, run.ID)
	r := onlyRevocation(t, b, run.ID)
	if r.State != store.Failed || r.Attempts != 1 || !strings.Contains(r.LastError, "401") {
		t.Fatalf("revocation %+v, want failed after one attempt with the 401", r)
	}
	if strings.Contains(r.LastError, "wrong-token") {
		t.Fatal("the error shows the token")
	}
	applyYAML(t, b.e, strings.Replace(fmt.Sprintf(cfg, b.target.Token), "{{URL}}", b.target.URL, 1)+
		"sources:\n  - {id: hr, type: csv, path: "+b.dir+"/hr.csv, columns: {externalId: employee_id, userName: login, status: status}}\n")
	if _, err := b.e.Retry(b.ctx, r.ID, "test"); err != nil {
		t.Fatal(err)
	}
	b.wait(t, run.ID)
	if r = onlyRevocation(t, b, run.ID); r.State != store.Succeeded {
		t.Fatalf("after retry: %+v, want succeeded", r)
	}
	if b.active(t, "bob") {
		t.Fatal("bob still active")
	}
}

// TestRateLimit: with allocation size 16 and rateLimit 5, the target's own
// log shows at most 5 requests in any one-second window, plus the one
// request a full token bucket may let through at its start.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	var users []string
	var csv strings.Builder
	for i := range 12 {
		u := fmt.Sprintf("u%02d", i)
		users = append(users, u)
		fmt.Fprintf(&csv, "%d,%s,TERMINATED,,eng\n", i, u)
	}
	b := setupWith(t, opts{users: users, csv: csv.String(), realClock: true, config: `rules:
  - {id: leavers, trigger: {statuses: [TERMINATED]}, processAllocationSize: 16}
applications:
  - id: app
    connector: {type: scim, url: "{{URL}}", token: "{{TOKEN}}"}
    rateLimit: 5
`})
	b.prepare(t)
	b.start(t)
	mark := time.Now()
	run := b.run(t, "leavers")
	b.wait(t, run.ID)
	reqs := since(b.target.Requests(t), mark)
	if len(reqs) < 24 {
		t.Fatalf("%d requests, want at least 24 (a GET and a PATCH per account)", len(reqs))
	}
	for i := range reqs {
		n := 0
		for _, r := range reqs[i:] {
			if r.Time.Sub(reqs[i].Time) < time.Second {
				n++
			}
		}
		if n > 6 {
			t.Fatalf("%d requests in the second after %s, want at most 5 (+1 burst)", n, reqs[i].Time.Format("15:04:05.000"))
		}
	}
	for _, u := range users {
		if b.active(t, u) {
			t.Errorf("%s still active", u)
		}
	}
}

// TestManualWorkItem: a manual application turns a revocation into a work
// item that waits for a person; completing it is audited with who did it.
func TestManualWorkItem(t *testing.T) {
	t.Parallel()
	b := setupWith(t, opts{users: []string{"bob"}, csv: "2,bob,TERMINATED,,eng\n", config: `rules:
  - {id: leavers, trigger: {statuses: [TERMINATED]}}
applications:
  - id: app
    connector: {type: scim, url: "{{URL}}", token: "{{TOKEN}}"}
  - id: legacy
    connector: {type: manual, assignee: it-ops@example.com, instructions: "Use the admin console of the legacy ERP."}
`})
	// The manual application cannot list accounts: every identity is
	// taken to hold one there, named by its userName.
	b.prepare(t, "app", "legacy")
	accts, err := b.st.ListAccounts(b.ctx, store.AccountQuery{ApplicationID: "legacy"})
	if err != nil || len(accts) != 1 || accts[0].NativeID != "bob" || accts[0].IdentityID != "hr/2" {
		t.Fatalf("assumed accounts %+v, %v: want bob's", accts, err)
	}
	b.start(t)
	run := b.run(t, "leavers")
	b.wait(t, run.ID)
	revs, err := b.st.ListRevocations(b.ctx, store.RevocationQuery{RunID: run.ID, States: []store.RevocationState{store.Waiting}})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 1 || revs[0].ApplicationID != "legacy" || !strings.Contains(revs[0].Result, "legacy ERP") || !strings.Contains(revs[0].Result, "it-ops@example.com") {
		t.Fatalf("waiting = %+v, want the legacy work item with its instructions", revs)
	}
	if _, err := b.e.Complete(b.ctx, revs[0].ID, "done in the ERP console", "cli:alex"); err != nil {
		t.Fatal(err)
	}
	r, err := b.st.Revocation(b.ctx, revs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != store.Succeeded || !strings.Contains(r.Result, "completed by cli:alex: done in the ERP console") {
		t.Fatalf("completed = %+v", r)
	}
	evs, err := b.st.ListAudit(b.ctx, store.AuditQuery{Action: "revocation.succeeded"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		if ev.RevocationID == r.ID && ev.Actor == "cli:alex" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit of the completion by cli:alex in %+v", evs)
	}
	if _, err := b.e.Complete(b.ctx, r.ID, "", "cli:alex"); err == nil {
		t.Fatal("completing twice succeeded")
	}
}

// TestRejectedWorkItemIsNotPlannedAgain: a work item rejected by the person
// who got it fails the revocation with the note; the next runs skip it as
// failed (naming the revocation) instead of filing a new work item each
// time, until someone retries it.
func TestRejectedWorkItemIsNotPlannedAgain(t *testing.T) {
	t.Parallel()
	b := setupWith(t, opts{csv: "2,bob,TERMINATED,,eng\n", config: `rules:
  - {id: leavers, trigger: {statuses: [TERMINATED]}}
applications:
  - id: legacy
    connector: {type: manual, instructions: "Use the admin console of the legacy ERP."}
`})
	b.prepare(t, "legacy")
	b.start(t)
	run := b.run(t, "leavers")
	b.wait(t, run.ID)
	rv := onlyRevocation(t, b, run.ID)
	if rv.State != store.Waiting {
		t.Fatalf("revocation %s, want a waiting work item", rv.State)
	}
	if _, err := b.e.RejectWork(b.ctx, rv.ID, "no such user in the ERP", "cli:alex"); err != nil {
		t.Fatal(err)
	}
	again := b.run(t, "leavers")
	if again.Counts.Planned != 0 || len(again.Items) != 1 || again.Items[0].Skip != rule.SkipFailed ||
		!strings.Contains(again.Items[0].Reason, fmt.Sprintf("revocation %d failed", rv.ID)) {
		t.Fatalf("run after the rejection: %+v, want the item skipped as failed", again.Items)
	}
	if _, err := b.e.Retry(b.ctx, rv.ID, "cli:alex"); err != nil {
		t.Fatal(err)
	}
	b.wait(t, run.ID)
	if r, err := b.st.Revocation(b.ctx, rv.ID); err != nil || r.State != store.Waiting {
		t.Fatalf("after retry: %+v, %v, want a new work item", r, err)
	}
	third := b.run(t, "leavers")
	if third.Counts.Planned != 0 || third.Items[0].Skip != rule.SkipAlreadyScheduled {
		t.Fatalf("run during the retried work item: %+v", third.Items)
	}
}

// TestAttemptLimit: a target that keeps failing uses up the application's
// maxAttempts; the revocation then ends failed with its last error, and
// the target saw exactly that many attempts.
func TestAttemptLimit(t *testing.T) {
	t.Parallel()
	b := setupWith(t, opts{users: []string{"bob"}, csv: "2,bob,TERMINATED,,eng\n", realClock: true,
		config: `rules:
  - {id: leavers, trigger: {statuses: [TERMINATED]}}
applications:
  - id: app
    connector: {type: scim, url: "{{URL}}", token: "{{TOKEN}}"}
    maxAttempts: 2
`})
	b.prepare(t)
	b.start(t)
	b.target.FailNext(t, 2, 503, nil) // each attempt's first request
	run := b.run(t, "leavers")
	r := settled(t, b, run.ID, time.Minute)
	if r.State != store.Failed || r.Attempts != 2 || !strings.Contains(r.LastError, "gave up after 2 attempts") || !strings.Contains(r.LastError, "503") {
		t.Fatalf("revocation %s after %d attempts (%q), want failed after 2 with the 503", r.State, r.Attempts, r.LastError)
	}
	n := actions(t, b.st)
	if n["revocation.running"] != 2 || n["revocation.retrying"] != 1 || n["revocation.failed"] != 1 {
		t.Errorf("audit %v, want 2 attempts, 1 retry, 1 failure", n)
	}
	if !b.active(t, "bob") {
		t.Error("bob disabled although every attempt failed")
	}
}

// TestAllocationSizeBoundsConcurrency: a rule's process allocation size is
// how many of its revocations run at once. The application (a webhook
// receiver) answers a wave of requests only once that many wait, so a node
// running fewer at once sees its attempts time out (and fails the test); a
// request beyond the size, arriving while a wave waits, is counted.
func TestAllocationSizeBoundsConcurrency(t *testing.T) {
	t.Parallel()
	const alloc, leavers = 3, 9
	var mu sync.Mutex
	inFlight, most, served := 0, 0, 0
	wave := make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		release := wave
		if inFlight == alloc || served+inFlight == leavers {
			close(wave) // this wave is complete: let it through
			wave = make(chan struct{})
		}
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		inFlight--
		served++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	var csv strings.Builder
	for i := range leavers {
		fmt.Fprintf(&csv, "%d,u%d,TERMINATED,,eng\n", i, i)
	}
	b := setupWith(t, opts{csv: csv.String(), realClock: true, config: `rules:
  - id: leavers
    trigger: {statuses: [TERMINATED]}
    processAllocationSize: 3
applications:
  - id: payroll
    connector: {type: webhook, url: "` + receiver.URL + `/deprov", secret: s3cret, timeoutSeconds: 5}
    maxAttempts: 1
`})
	b.prepare(t, "payroll")
	b.start(t)
	run := b.run(t, "leavers")
	b.wait(t, run.ID)
	revs, err := b.st.ListRevocations(b.ctx, store.RevocationQuery{RunID: run.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range revs {
		if r.State != store.Succeeded {
			t.Fatalf("revocation of %s %s (%s): the webhook waited for %d requests at once that never came", r.UserName, r.State, r.LastError, alloc)
		}
	}
	if len(revs) != leavers || most != alloc {
		t.Fatalf("%d revocations, at most %d requests at once; want %d and %d", len(revs), most, leavers, alloc)
	}
}

// TestAttemptTimeoutIsRecorded: an attempt that outlives the attempt
// timeout (the target never answers) is recorded as a failed attempt at
// once, with its error, not left running until River tries its job again;
// it is worth another attempt (a slow target), until maxAttempts.
func TestAttemptTimeoutIsRecorded(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers while the test runs
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() {
		close(done)
		receiver.Close()
	})
	b := setupWith(t, opts{csv: "2,bob,TERMINATED,,eng\n", realClock: true, attemptTimeout: time.Second, config: `rules:
  - {id: leavers, trigger: {statuses: [TERMINATED]}}
applications:
  - id: payroll
    connector: {type: webhook, url: "` + receiver.URL + `/deprov", secret: s3cret, timeoutSeconds: 60}
    maxAttempts: 2
`})
	b.prepare(t, "payroll")
	b.start(t)
	run := b.run(t, "leavers")
	r := settled(t, b, run.ID, time.Minute)
	if r.State != store.Failed || r.Attempts != 2 || !strings.Contains(r.LastError, "attempt cut short") || !strings.Contains(r.LastError, "gave up after 2 attempts") {
		t.Fatalf("revocation %s after %d attempts (%q), want failed after two attempts cut short", r.State, r.Attempts, r.LastError)
	}
	if n := actions(t, b.st); n["revocation.running"] != 2 || n["revocation.retrying"] != 1 || n["revocation.failed"] != 1 {
		t.Fatalf("audit %v, want two attempts, a retry between them and the failure", n)
	}
}

// TestEndlessRetryAfterEnds: a target that answers every request with 429
// and Retry-After is paused for without using up attempts, but only so
// many times in a row: then its pauses count, and the revocation ends
// failed instead of waiting for ever.
func TestEndlessRetryAfterEnds(t *testing.T) {
	t.Parallel()
	b := setupWith(t, opts{users: []string{"bob"}, csv: "2,bob,TERMINATED,,eng\n", realClock: true, config: `rules:
  - {id: leavers, trigger: {statuses: [TERMINATED]}}
applications:
  - id: app
    connector: {type: scim, url: "{{URL}}", token: "{{TOKEN}}"}
    maxAttempts: 1
`})
	b.prepare(t)
	b.start(t)
	b.target.FailNext(t, 1000, 429, map[string]string{"Retry-After": "1"})
	run := b.run(t, "leavers")
	r := settled(t, b, run.ID, time.Minute)
	if r.State != store.Failed || r.Attempts != 1 || !strings.Contains(r.LastError, "429") {
		t.Fatalf("revocation %s after %d attempts, %d pauses (%q), want failed after its pauses ran out", r.State, r.Attempts, r.Pauses, r.LastError)
	}
	if n := actions(t, b.st); n["revocation.retrying"] != 10 {
		t.Fatalf("audit %v, want 10 pauses before the attempt counted", n)
	}
}
