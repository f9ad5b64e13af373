package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/store"
)

// revocation loads a revocation for an operator action; an unknown id is
// invalid input.
func (e *Engine) revocation(ctx context.Context, id int64) (store.Revocation, error) {
	r, err := e.st.Revocation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, invalidf("unknown revocation %d", id)
	}
	return r, err
}

// Complete records that a person carried out a waiting work item.
func (e *Engine) Complete(ctx context.Context, id int64, note, actor string) (store.Revocation, error) {
	r, err := e.revocation(ctx, id)
	if err != nil {
		return r, err
	}
	if r.State != store.Waiting {
		return r, invalidf("revocation %d is %s: only a waiting work item can be completed", id, r.State)
	}
	msg := "completed by " + actor + prefixed(": ", note)
	if err := e.succeed(ctx, r, connector.Result{}, actor, msg); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return r, invalidf("revocation %d changed state meanwhile; look again", id)
		}
		return r, err
	}
	return e.st.Revocation(ctx, id)
}

// RejectWork records that a person could not or would not carry out a
// waiting work item: the revocation fails with the note as its error.
func (e *Engine) RejectWork(ctx context.Context, id int64, note, actor string) (store.Revocation, error) {
	r, err := e.revocation(ctx, id)
	if err != nil {
		return r, err
	}
	if r.State != store.Waiting {
		return r, invalidf("revocation %d is %s: only a waiting work item can be rejected", id, r.State)
	}
	if note == "" {
		return r, invalidf("--note is required: say why the work item was rejected")
	}
	msg := "rejected by " + actor + ": " + note
	if err := e.failAs(ctx, r, msg, actor, []store.RevocationState{store.Waiting}); err != nil {
		return r, err
	}
	return e.st.Revocation(ctx, id)
}

// Retry schedules a failed revocation again, now, with fresh attempts.
func (e *Engine) Retry(ctx context.Context, id int64, actor string) (store.Revocation, error) {
	r, err := e.revocation(ctx, id)
	if err != nil {
		return r, err
	}
	if r.State != store.Failed {
		return r, invalidf("revocation %d is %s: only a failed revocation can be retried", id, r.State)
	}
	now, zero, empty := e.Now(), 0, ""
	ev := e.revocationEvent(r, actor, "revocation.retried", fmt.Sprintf("%s of %s in %s retried by %s after: %s", r.Action, r.UserName, r.ApplicationID, actor, r.LastError))
	_, err = e.st.UpdateRevocation(ctx, id, []store.RevocationState{store.Failed}, store.RevocationUpdate{
		State: store.Scheduled, DueAt: &now, Attempts: &zero, Pauses: &zero, Result: &empty, Unqueue: true,
	}, ev)
	if errors.Is(err, store.ErrConflict) {
		return r, invalidf("revocation %d is already active again: another revocation of that account is scheduled, or it changed meanwhile", id)
	}
	if err != nil {
		return r, err
	}
	if err := e.Enqueue(ctx); err != nil {
		return r, err
	}
	return e.st.Revocation(ctx, id)
}

// failAs moves a revocation to failed on behalf of actor.
func (e *Engine) failAs(ctx context.Context, r store.Revocation, msg, actor string, from []store.RevocationState) error {
	now := e.Now()
	ev := e.revocationEvent(r, actor, "revocation.failed", fmt.Sprintf("%s of %s in %s failed: %s", r.Action, r.UserName, r.ApplicationID, msg))
	ev.Detail["error"] = msg
	_, err := e.st.UpdateRevocation(ctx, r.ID, from, store.RevocationUpdate{State: store.Failed, LastError: &msg, FinishedAt: &now}, ev)
	if errors.Is(err, store.ErrConflict) {
		return invalidf("revocation %d changed state meanwhile; look again", r.ID)
	}
	return err
}

// run loads a run for an operator action.
func (e *Engine) run(ctx context.Context, id int64) (store.Run, error) {
	r, err := e.st.Run(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, invalidf("unknown run %d", id)
	}
	return r, err
}

// Approve schedules exactly the plan of a quarantined run.
func (e *Engine) Approve(ctx context.Context, id int64, actor string) (store.Run, error) {
	run, err := e.run(ctx, id)
	if err != nil {
		return run, err
	}
	if run.State != store.RunQuarantined {
		return run, invalidf("run %d is %s: only a quarantined run can be approved", id, run.State)
	}
	revs := e.revocations(run, run.Items)
	ev := e.event(actor, "run.approved", fmt.Sprintf("quarantined run %d of rule %s approved by %s: %d revocation(s) for %d user(s) scheduled", id, run.RuleID, actor, len(revs), run.Counts.Users))
	ev.RuleID, ev.RunID = run.RuleID, run.ID
	ev.Detail = map[string]any{"planned": len(revs), "users": run.Counts.Users, "quarantine": run.Error}
	out, err := e.st.ResolveRun(ctx, store.ResolveRunParams{
		ID: id, From: []store.RunState{store.RunQuarantined}, To: store.RunApproved,
		Revocations: revs, Events: []audit.Event{ev},
		RevocationEvent: func(rv store.Revocation) audit.Event {
			return e.revocationEvent(rv, actor, "revocation.scheduled", fmt.Sprintf("%s of %s in %s scheduled on approval, due %s", rv.Action, rv.UserName, rv.ApplicationID, rv.DueAt.Format("2006-01-02T15:04:05Z07:00")))
		},
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return run, invalidf("run %d changed meanwhile, or some of its revocations are already scheduled by another run; run the rule again", id)
	case err != nil:
		return run, err
	}
	if err := e.Enqueue(ctx); err != nil {
		return out, err
	}
	return out, nil
}

// Reject discards the plan of a quarantined run.
func (e *Engine) Reject(ctx context.Context, id int64, reason, actor string) (store.Run, error) {
	run, err := e.run(ctx, id)
	if err != nil {
		return run, err
	}
	if run.State != store.RunQuarantined {
		return run, invalidf("run %d is %s: only a quarantined run can be rejected", id, run.State)
	}
	ev := e.event(actor, "run.rejected", fmt.Sprintf("quarantined run %d of rule %s rejected by %s%s", id, run.RuleID, actor, prefixed(": ", reason)))
	ev.RuleID, ev.RunID = run.RuleID, run.ID
	out, err := e.st.ResolveRun(ctx, store.ResolveRunParams{ID: id, From: []store.RunState{store.RunQuarantined}, To: store.RunRejected, Events: []audit.Event{ev}})
	if errors.Is(err, store.ErrConflict) {
		return run, invalidf("run %d changed meanwhile; look again", id)
	}
	return out, err
}

// UndoResult says what an undo did.
type UndoResult struct {
	// Run is the undo run that restores the accounts.
	Run store.Run `json:"run"`
	// Restoring are the revocations that restore accounts.
	Restoring []store.Revocation `json:"restoring"`
	// Cancelled are revocations of the undone run that had not run yet.
	Cancelled []store.Revocation `json:"cancelled"`
	// NotUndoable are deletes that happened: a deleted account cannot be restored.
	NotUndoable []store.Revocation `json:"notUndoable"`
	// StillRunning are revocations that began while the undo cancelled the
	// run's scheduled ones: undo the run again once they have finished.
	StillRunning []store.Revocation `json:"stillRunning"`
}

// Undo reverses a run: scheduled revocations of it are cancelled, and every
// disable or revoke that happened is restored through the same connector
// (re-enable, add back the memberships recorded before the change), as an
// undo run of its own; so is every one that failed after an attempt, which
// may have changed part of the account. Deletes that happened are
// reported, not undone. A run with revocations being carried out right now
// is refused, changing nothing: undo it once they have finished.
func (e *Engine) Undo(ctx context.Context, id int64, actor string) (UndoResult, error) {
	var res UndoResult
	orig, err := e.run(ctx, id)
	if err != nil {
		return res, err
	}
	if orig.Trigger == "undo" {
		return res, invalidf("run %d is itself an undo; run the rule again instead", id)
	}
	revs, err := e.st.ListRevocations(ctx, store.RevocationQuery{RunID: id})
	if err != nil {
		return res, err
	}
	var running []string
	for _, r := range revs {
		if r.State == store.Running {
			running = append(running, fmt.Sprintf("%d (%s in %s)", r.ID, r.UserName, r.ApplicationID))
		}
	}
	if len(running) > 0 {
		return res, invalidf("run %d has %d revocation(s) being carried out right now: %s; undo it once they have finished (nothing was changed)",
			id, len(running), strings.Join(running, ", "))
	}
	for i, r := range revs {
		if r.State != store.Scheduled && r.State != store.Waiting {
			continue
		}
		err := e.cancel(ctx, r, fmt.Sprintf("run %d undone by %s", id, actor), actor, false)
		if errors.Is(err, store.ErrConflict) {
			// It moved meanwhile: it began, or ended. Look at it as it is.
			if revs[i], err = e.st.Revocation(ctx, r.ID); err != nil {
				return res, err
			}
			if revs[i].State == store.Running {
				res.StillRunning = append(res.StillRunning, revs[i])
			}
			continue
		}
		if err != nil {
			return res, err
		}
		res.Cancelled = append(res.Cancelled, r)
	}
	now := e.Now()
	undo := store.Run{RuleID: orig.RuleID, Trigger: "undo", Actor: actor, State: store.RunCompleted, StartedAt: now, FinishedAt: now}
	var restoring []store.Revocation
	for _, r := range revs {
		switch {
		case r.State == store.Succeeded && r.Action == account.Delete:
			res.NotUndoable = append(res.NotUndoable, r)
			continue
		case r.State == store.Succeeded, r.State == store.Failed && r.Before != nil && r.Action != account.Delete:
		default:
			continue
		}
		restoring = append(restoring, store.Revocation{
			RuleID: r.RuleID, IdentityID: r.IdentityID, UserName: r.UserName, ApplicationID: r.ApplicationID,
			AccountID: r.AccountID, AccountName: r.AccountName, Action: account.Restore, State: store.Scheduled,
			DueAt: now, CreatedAt: now, UpdatedAt: now, Before: r.Before, UndoOf: r.ID,
		})
		undo.Counts.Planned++
	}
	undo.Counts.Users = len(restoring)
	ev := e.event(actor, "run.undo", fmt.Sprintf("run %d of rule %s undone by %s: %d to restore, %d cancelled, %d deletes cannot be undone, %d still running", id, orig.RuleID, actor, len(restoring), len(res.Cancelled), len(res.NotUndoable), len(res.StillRunning)))
	ev.RuleID = orig.RuleID
	var lost []any
	for _, r := range res.NotUndoable {
		lost = append(lost, map[string]any{"revocation": r.ID, "identity": r.IdentityID, "application": r.ApplicationID, "account": r.AccountName})
	}
	ev.Detail = map[string]any{"undoes": id, "restoring": len(restoring), "cancelled": len(res.Cancelled), "notUndoable": lost, "stillRunning": len(res.StillRunning)}
	err = e.st.CreateRun(ctx, store.CreateRunParams{Run: &undo, Revocations: restoring, Events: []audit.Event{ev},
		RevocationEvent: func(rv store.Revocation) audit.Event {
			return e.revocationEvent(rv, actor, "revocation.scheduled", fmt.Sprintf("restore of %s in %s scheduled (undoes revocation %d)", rv.UserName, rv.ApplicationID, rv.UndoOf))
		}})
	if errors.Is(err, store.ErrConflict) {
		return res, invalidf("run %d is being undone already", id)
	}
	if err != nil {
		return res, err
	}
	res.Run, res.Restoring = undo, restoring
	return res, e.Enqueue(ctx)
}
