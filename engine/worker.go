package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/store"
)

// RevocationArgs is the durable job that executes one revocation. The
// revocation row is the truth; the job only says "look at it when due".
type RevocationArgs struct {
	RevocationID int64 `json:"revocationId"`
	// Queued is when the job was queued (Unix µs, wall clock). It makes a
	// retried revocation's job a new job, whatever River has not yet
	// recorded of the old one's end. Two live jobs for one revocation (a
	// crash between queueing and marking it queued) are harmless: the
	// revocation's state changes are compare-and-set.
	Queued int64 `json:"queued,omitempty"`
}

// Kind names the job type.
func (RevocationArgs) Kind() string { return "deprov_revocation" }

// RuleRunArgs is the job a rule's schedule inserts, one per fire time.
type RuleRunArgs struct {
	RuleID string `json:"ruleId"`
	// FireAt is the fire time the job is for. The job is unique by its
	// arguments, so no two leaders insert one fire time twice, and the run
	// it stores carries the fire time, so that a job taken up again after a
	// crash finds the run it already stored instead of running again.
	FireAt time.Time `json:"fireAt,omitzero"`
}

// Kind names the job type.
func (RuleRunArgs) Kind() string { return "deprov_rule_run" }

// SourceSyncArgs is the job a source's schedule inserts, one per fire time.
type SourceSyncArgs struct {
	SourceID string `json:"sourceId"`
	// FireAt is the fire time the job is for (a sync is idempotent, so a
	// repeated one does no harm; the fire time keeps jobs unique).
	FireAt time.Time `json:"fireAt,omitzero"`
}

// Kind names the job type.
func (SourceSyncArgs) Kind() string { return "deprov_source_sync" }

// controlQueue runs rule runs and source syncs.
const controlQueue = "control"

// queueFor is the River queue of a rule's revocations, whose MaxWorkers is
// the rule's process allocation size.
func queueFor(ruleID string) string { return "rule_" + ruleID }

// queueOf is the queue a revocation of ruleID is queued in: its rule's, or
// the control queue, which every serving node has, when the rule was
// removed (the restoring revocations of an undo, say).
func queueOf(cfg config.Config, ruleID string) string {
	if _, ok := cfg.Rule(ruleID); ok {
		return queueFor(ruleID)
	}
	return controlQueue
}

// DefaultMaxAttempts is how often a revocation is tried when its
// application sets no maxAttempts.
// With the backoff of 2, 4, 8, 16, 32, 64 s … (±20 %), 8 attempts ride out
// an outage of a target of at least three minutes.
const DefaultMaxAttempts = 8

func maxAttempts(app config.Application) int {
	if app.MaxAttempts > 0 {
		return app.MaxAttempts
	}
	return DefaultMaxAttempts
}

// Enqueue makes sure every scheduled revocation has its job. Jobs are
// unique by revocation, so enqueueing twice (after a crash between storing
// a run and queueing its jobs) never doubles one.
func (e *Engine) Enqueue(ctx context.Context) error {
	jobs, err := e.jobClient()
	if err != nil {
		return err
	}
	// One pass at a time in this process, so that a run's own pass and the
	// periodic one do not queue the same revocation twice.
	e.enqueueMu.Lock()
	defer e.enqueueMu.Unlock()
	cfg, _, err := e.config(ctx)
	if err != nil {
		return err
	}
	for {
		revs, err := e.st.ListRevocations(ctx, store.RevocationQuery{States: []store.RevocationState{store.Scheduled}, Unqueued: true, Limit: 500})
		if err != nil || len(revs) == 0 {
			return err
		}
		params := make([]river.InsertManyParams, len(revs))
		ids := make([]int64, len(revs))
		now, wall := e.Now(), time.Now().UnixMicro()
		for i, r := range revs {
			opts := &river.InsertOpts{Queue: queueOf(cfg, r.RuleID), MaxAttempts: 100, UniqueOpts: uniqueOpts}
			if r.DueAt.After(now) {
				// A job with a time waits for River's scheduler; one that is
				// due now is available to workers at once.
				opts.ScheduledAt = r.DueAt
			}
			params[i] = river.InsertManyParams{Args: RevocationArgs{RevocationID: r.ID, Queued: wall}, InsertOpts: opts}
			ids[i] = r.ID
		}
		if _, err := jobs.InsertMany(ctx, params); err != nil {
			return fmt.Errorf("queue revocations: %w", err)
		}
		if err := e.st.MarkQueued(ctx, ids); err != nil {
			return err
		}
	}
}

// uniqueOpts keep one live job per revocation. A finished job does not
// count, so that a revocation retried by hand gets a job again.
var uniqueOpts = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}}

// jobClient returns the serving client, or an insert-only one.
func (e *Engine) jobClient() (store.JobClient, error) {
	e.jobsMu.Lock()
	defer e.jobsMu.Unlock()
	if e.jobs != nil {
		return e.jobs, nil
	}
	rc := &river.Config{Logger: e.riverLog()}
	if e.stubbedClock {
		// Jobs inserted here are stamped by the same clock the workers use.
		rc.Test.Time = jobClock{e.now}
	}
	c, err := e.st.NewJobClient(rc)
	if err != nil {
		return nil, fmt.Errorf("job client: %w", err)
	}
	e.jobs = c
	return c, nil
}

type revocationWorker struct {
	river.WorkerDefaults[RevocationArgs]
	e *Engine
}

// Timeout bounds one attempt; connectors have their own shorter timeouts.
func (w *revocationWorker) Timeout(*river.Job[RevocationArgs]) time.Duration {
	return w.e.attemptTimeout
}

func (w *revocationWorker) Work(ctx context.Context, job *river.Job[RevocationArgs]) error {
	return w.e.execute(ctx, job.Args.RevocationID, job.Attempt)
}

// execute carries out one revocation. It re-checks everything at the time
// of action: the revocation must still be scheduled, its rule must still
// exist and match the identity, and the application must not be excluded.
// The returned error makes River retry; river.JobCancel stops it.
func (e *Engine) execute(ctx context.Context, id int64, jobAttempt int) error {
	r, err := e.st.Revocation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("revocation %d: %w", id, err))
	}
	if err != nil {
		return err
	}
	if r.State != store.Scheduled && r.State != store.Running {
		return nil // cancelled, done or waiting for a person: nothing to do
	}
	if r.State == store.Running && jobAttempt <= 1 {
		// Another job is carrying it out right now. Only a job River runs
		// again (a rescue after a node died mid-attempt) takes over a
		// running revocation.
		return nil
	}
	now := e.Now()
	if wait := r.DueAt.Sub(now); wait > time.Second {
		return river.JobSnooze(wait)
	}
	cfg, ver, err := e.config(ctx)
	if err != nil {
		return err
	}
	// The identity's accounts, deleted ones too, read once: the rule's
	// re-check sees the live ones, the action its own.
	all, err := e.st.ListAccounts(ctx, store.AccountQuery{IdentityIDs: []string{r.IdentityID}, IncludeDeleted: true})
	if err != nil {
		return err
	}
	if r.Action == account.Restore {
		// An undo is an operator's decision against the rule: only a removed
		// application stops it.
		if _, ok := cfg.Application(r.ApplicationID); !ok {
			return e.fail(ctx, r, fmt.Sprintf("application %s was removed", r.ApplicationID), r.Attempts, nil)
		}
	} else if reason, stop, err := e.stillWanted(ctx, cfg, ver, r, all); err != nil {
		return err
	} else if stop {
		if err := e.cancel(ctx, r, reason, e.workerActor, true); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
		return nil
	}
	conn, app, err := e.connector(ctx, r.ApplicationID)
	if err != nil {
		return e.fail(ctx, r, err.Error(), r.Attempts, nil)
	}
	acct := accountOf(r, all)
	attempts := r.Attempts + 1
	u := store.RevocationUpdate{State: store.Running, Attempts: &attempts}
	if r.Before == nil && r.Action != account.Restore {
		// Keep what the account was before the first attempt, for undo, as
		// the last aggregation saw it; what the action itself finds in the
		// target replaces it (foundBefore). A revoke by a connector that
		// reports its removals restores exactly those.
		before := acct
		if _, ok := conn.(connector.RemovalReporter); ok && r.Action == account.Revoke {
			before.Entitlements = nil
		}
		u.Before = &before
	}
	ev := e.revocationEvent(r, e.workerActor, "revocation.running", fmt.Sprintf("%s of %s in %s started (attempt %d)", r.Action, r.UserName, r.ApplicationID, attempts))
	r, err = e.st.UpdateRevocation(ctx, r.ID, []store.RevocationState{r.State}, u, ev)
	if errors.Is(err, store.ErrConflict) {
		return nil // cancelled meanwhile
	}
	if err != nil {
		return err
	}
	cctx := connector.WithRevocation(ctx, connector.Revocation{ID: r.ID, RuleID: r.RuleID, IdentityID: r.IdentityID, ApplicationID: r.ApplicationID})
	cctx = connector.WithWaiter(cctx, e.limiter(r.ApplicationID))
	var res connector.Result
	start := time.Now()
	if r.Action == account.Restore {
		res, err = restore(cctx, conn, acct, r.Before)
	} else {
		res, err = connector.Perform(cctx, conn, r.Action, acct)
	}
	e.observe(r.ApplicationID, string(r.Action), start, err)
	var re *connector.RetryableError
	if err != nil && ctx.Err() != nil && !errors.As(err, &re) {
		// The attempt ran out of time (or the node is stopping) before the
		// target answered: a slow target, worth another attempt.
		err = &connector.RetryableError{Err: fmt.Errorf("attempt cut short after %s: %w", time.Since(start).Round(time.Millisecond), err)}
	}
	// The attempt's deadline bounds the call to the target, not recording
	// its outcome: an attempt that timed out, or whose answer came late,
	// is recorded all the same, rather than left running until River tries
	// its job again (a node stopping waits for that too).
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var wi *connector.WorkItemError
	switch {
	case errors.As(err, &wi):
		return e.wait(rctx, r, wi)
	case err != nil:
		return e.attemptFailed(rctx, r, app, res, err)
	}
	return e.succeed(rctx, r, res, e.workerActor, "")
}

// maxPauses is how many pauses in a row a target may ask for (Retry-After)
// before each further one uses up an attempt.
const maxPauses = 10

// recordTimeout bounds recording the outcome of an attempt: within the
// slack River gives a job past its attempt before it may be rescued.
const recordTimeout = jobTimeoutSlack

// restore undoes a revocation: it re-enables the account if it was active
// before, and adds back the memberships it had.
func restore(ctx context.Context, conn connector.Connector, acct account.Account, before *account.Account) (connector.Result, error) {
	if before == nil {
		return connector.Result{}, errors.New("nothing recorded of the account before the revocation: cannot restore")
	}
	var done []string
	already := true
	if before.State == account.Active {
		en, ok := conn.(connector.Enabler)
		if !ok {
			return connector.Result{}, fmt.Errorf("enable: %w", connector.ErrUnsupported)
		}
		res, err := en.Enable(ctx, acct)
		if err != nil {
			return res, fmt.Errorf("enable %s: %w", acct.UserName, err)
		}
		already = already && res.AlreadyDone
		if !res.AlreadyDone {
			done = append(done, "re-enabled")
		}
	}
	if len(before.Entitlements) > 0 {
		ga, ok := conn.(connector.GroupAdder)
		if !ok {
			return connector.Result{}, fmt.Errorf("restore memberships: %w", connector.ErrUnsupported)
		}
		for _, g := range before.Entitlements {
			res, err := ga.AddMembership(ctx, acct, g.ID)
			if err != nil {
				return connector.Result{}, fmt.Errorf("restore membership of %s in %s (after %v): %w", acct.UserName, cmpOr(g.Name, g.ID), done, err)
			}
			already = already && res.AlreadyDone
			if !res.AlreadyDone {
				done = append(done, "added to "+cmpOr(g.Name, g.ID))
			}
		}
	}
	if len(done) == 0 {
		return connector.Result{AlreadyDone: already, Detail: "account already as before"}, nil
	}
	return connector.Result{Detail: strings.Join(done, ", ")}, nil
}

// wait turns a revocation into a work item for a person.
func (e *Engine) wait(ctx context.Context, r store.Revocation, wi *connector.WorkItemError) error {
	note := wi.Instructions
	if wi.Assignee != "" {
		note += " (assigned to " + wi.Assignee + ")"
	}
	ev := e.revocationEvent(r, e.workerActor, "revocation.waiting", fmt.Sprintf("%s of %s in %s is a work item: %s", r.Action, r.UserName, r.ApplicationID, note))
	if _, err := e.st.UpdateRevocation(ctx, r.ID, []store.RevocationState{store.Running},
		store.RevocationUpdate{State: store.Waiting, Result: &note}, ev); err != nil {
		return err
	}
	e.log.Info("revocation waiting for a person", "revocation", r.ID, "application", r.ApplicationID, "user", r.UserName, "assignee", wi.Assignee)
	return nil
}

// stillWanted re-checks a revocation against the current configuration and
// identity; stop is true (with the reason) when it must be cancelled.
func (e *Engine) stillWanted(ctx context.Context, cfg config.Config, ver int64, r store.Revocation, all []account.Account) (reason string, stop bool, err error) {
	rl, ok := cfg.Rule(r.RuleID)
	if !ok {
		return fmt.Sprintf("rule %s was removed", r.RuleID), true, nil
	}
	if _, ok := cfg.Application(r.ApplicationID); !ok {
		return fmt.Sprintf("application %s was removed", r.ApplicationID), true, nil
	}
	c, err := e.compiled(cfg, ver, rl)
	if err != nil {
		return "", false, err
	}
	if x, ok := c.Spec().Exclusions[r.ApplicationID]; ok && (x.Until.IsZero() || e.Now().Before(x.Until)) {
		return fmt.Sprintf("application %s is now excluded from rule %s", r.ApplicationID, r.RuleID), true, nil
	}
	id, err := e.st.Identity(ctx, r.IdentityID)
	if errors.Is(err, store.ErrNotFound) {
		return "identity no longer exists", true, nil
	}
	if err != nil {
		return "", false, err
	}
	accts := make([]account.Account, 0, len(all))
	for _, a := range all {
		if a.State != account.Deleted {
			accts = append(accts, a)
		}
	}
	d := c.Decide(id, accts, e.Now())
	switch {
	case d.Matched:
		return "", false, nil
	case d.Err != nil:
		// A failing hook never deprovisions; try again later.
		return "", false, fmt.Errorf("re-check rule %s for %s: %w", r.RuleID, r.UserName, d.Err)
	}
	return fmt.Sprintf("identity no longer matches rule %s (%s)", r.RuleID, describe(id)), true, nil
}

// accountOf returns the stored account a revocation targets, among the
// identity's accounts, or one built from the revocation when aggregation no
// longer lists it.
func accountOf(r store.Revocation, all []account.Account) account.Account {
	for _, a := range all {
		if a.ApplicationID == r.ApplicationID && a.NativeID == r.AccountID {
			return a
		}
	}
	return account.Account{ApplicationID: r.ApplicationID, NativeID: r.AccountID, UserName: r.AccountName, IdentityID: r.IdentityID}
}

func (e *Engine) succeed(ctx context.Context, r store.Revocation, res connector.Result, actor, note string) error {
	now := e.Now()
	result := res.Detail
	if res.AlreadyDone {
		result = cmpOr(res.Detail, "already done")
		if res.Detail != "" {
			result = "already done: " + res.Detail
		}
	}
	result = cmpOr(result, "done")
	if note != "" {
		result = note
	}
	u := store.RevocationUpdate{State: store.Succeeded, FinishedAt: &now, Result: &result, Before: foundBefore(r, res)}
	switch r.Action {
	case account.Disable:
		u.AccountState = account.Disabled
	case account.Delete:
		u.AccountState = account.Deleted
	case account.Revoke:
		u.ClearEntitlements = true
	case account.Restore:
		if r.Before != nil {
			u.AccountState = r.Before.State
		}
	}
	from := []store.RevocationState{store.Running}
	if actor != e.workerActor {
		from = []store.RevocationState{store.Waiting}
	}
	ev := e.revocationEvent(r, actor, "revocation.succeeded", fmt.Sprintf("%s of %s in %s succeeded: %s", r.Action, r.UserName, r.ApplicationID, result))
	ev.Detail["result"] = result
	ev.Detail["alreadyDone"] = res.AlreadyDone
	if _, err := e.st.UpdateRevocation(ctx, r.ID, from, u, ev); err != nil {
		return fmt.Errorf("record success of revocation %d: %w", r.ID, err)
	}
	e.log.Info("revocation succeeded", "revocation", r.ID, "rule", r.RuleID, "user", r.UserName, "application", r.ApplicationID, "action", r.Action, "result", result)
	return nil
}

// attemptFailed records a failed attempt: retried later when the error is
// retryable and attempts remain, failed for good otherwise.
func (e *Engine) attemptFailed(ctx context.Context, r store.Revocation, app config.Application, res connector.Result, cause error) error {
	msg := cause.Error()
	before := foundBefore(r, res)
	var re *connector.RetryableError
	if !errors.As(cause, &re) {
		return e.fail(ctx, r, msg, r.Attempts, before)
	}
	// A pause the target asks for (Retry-After) uses up no attempt, up to
	// maxPauses in a row; past that each one counts, so that a target that
	// never stops asking still ends the revocation failed.
	pause := re.After > 0 && r.Pauses < maxPauses
	if !pause && r.Attempts >= maxAttempts(app) {
		return e.fail(ctx, r, fmt.Sprintf("%s (gave up after %d attempts)", msg, r.Attempts), r.Attempts, before)
	}
	attempts, pauses, delay := r.Attempts, 0, max(backoff(r.Attempts), re.After)
	if pause {
		attempts, pauses, delay = r.Attempts-1, r.Pauses+1, re.After
	}
	due := e.Now().Add(delay)
	ev := e.revocationEvent(r, e.workerActor, "revocation.retrying", fmt.Sprintf("%s of %s in %s failed, retrying in %s: %s", r.Action, r.UserName, r.ApplicationID, delay.Round(time.Millisecond), msg))
	ev.Detail["error"] = msg
	if _, err := e.st.UpdateRevocation(ctx, r.ID, []store.RevocationState{store.Running},
		store.RevocationUpdate{State: store.Scheduled, LastError: &msg, DueAt: &due, Attempts: &attempts, Pauses: &pauses, Before: before}, ev); err != nil {
		return err
	}
	e.log.Warn("revocation retrying", "revocation", r.ID, "application", r.ApplicationID, "in", delay, "error", msg)
	return river.JobSnooze(delay)
}

// fail moves a revocation to failed with its last error, and what its
// attempt found of the account before changing part of it (nil: nothing).
func (e *Engine) fail(ctx context.Context, r store.Revocation, msg string, attempts int, before *account.Account) error {
	now := e.Now()
	ev := e.revocationEvent(r, e.workerActor, "revocation.failed", fmt.Sprintf("%s of %s in %s failed: %s", r.Action, r.UserName, r.ApplicationID, msg))
	ev.Detail["error"] = msg
	if _, err := e.st.UpdateRevocation(ctx, r.ID, []store.RevocationState{store.Scheduled, store.Running},
		store.RevocationUpdate{State: store.Failed, LastError: &msg, FinishedAt: &now, Attempts: &attempts, Before: before}, ev); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	e.log.Error("revocation failed", "revocation", r.ID, "rule", r.RuleID, "user", r.UserName, "application", r.ApplicationID, "error", msg)
	return river.JobCancel(errors.New(msg))
}

// backoff is exponential from 2 s, capped at 10 min, with ±20 % jitter so
// that a target coming back is not hit by every retry at once.
func backoff(attempt int) time.Duration {
	d := 2 * time.Second << min(max(attempt-1, 0), 10)
	d = min(d, 10*time.Minute)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// retryPolicy applies backoff to jobs that return a plain error (a store
// hiccup), which deprov's own bookkeeping did not schedule.
type retryPolicy struct{}

func (retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(backoff(job.Attempt))
}

type ruleRunWorker struct {
	river.WorkerDefaults[RuleRunArgs]
	e *Engine
}

func (w *ruleRunWorker) Work(ctx context.Context, job *river.Job[RuleRunArgs]) error {
	_, err := w.e.Run(ctx, job.Args.RuleID, RunOptions{Trigger: "schedule", Actor: "scheduler", FireAt: job.Args.FireAt})
	if errors.Is(err, ErrInvalid) {
		return river.JobCancel(err) // the rule was removed: nothing to retry
	}
	return err
}

type sourceSyncWorker struct {
	river.WorkerDefaults[SourceSyncArgs]
	e *Engine
}

func (w *sourceSyncWorker) Work(ctx context.Context, job *river.Job[SourceSyncArgs]) error {
	res, err := w.e.Sync(ctx, job.Args.SourceID, "scheduler")
	if errors.Is(err, ErrInvalid) {
		w.e.log.Error("scheduled sync refused", "source", job.Args.SourceID, "error", err)
		return river.JobCancel(err)
	}
	if err == nil {
		w.e.log.Info("source synced", "source", job.Args.SourceID, "created", res.Created, "updated", res.Updated, "unchanged", res.Unchanged, "statusChanged", res.StatusChanged)
	}
	return err
}

// foundBefore is the revocation's record of the account before it was
// changed (its Before), corrected by what an attempt found in the target:
// the state the action found, when it changed it or on the first attempt
// (a later attempt may find its own earlier change), and the memberships
// it removed. Nil when there is nothing to correct.
func foundBefore(r store.Revocation, res connector.Result) *account.Account {
	if r.Before == nil || r.Action == account.Restore {
		return nil
	}
	b, changed := *r.Before, false
	if st := res.Found.State; st != "" && st != b.State && (!res.AlreadyDone || r.Attempts == 1) {
		b.State, changed = st, true
	}
	b.Entitlements = slices.Clone(b.Entitlements) // r.Before's own stays as read
	for _, g := range res.Found.Removed {
		if !slices.ContainsFunc(b.Entitlements, func(x account.Entitlement) bool { return x.ID == g.ID }) {
			b.Entitlements, changed = append(b.Entitlements, g), true
		}
	}
	if !changed {
		return nil
	}
	return &b
}
