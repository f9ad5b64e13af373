package records

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

// PrepareRevocation fills in what run decides of r (RunID, RuleID where
// empty, Scheduled where no state, creation times from now) and keeps its
// times, and returns the stored form of its Before.
func PrepareRevocation(r *store.Revocation, run store.Run, now time.Time) (before any, err error) {
	r.RunID = run.ID
	if r.RuleID == "" {
		r.RuleID = run.RuleID
	}
	if r.State == "" {
		r.State = store.Scheduled
	}
	r.CreatedAt = KeptTime(r.CreatedAt, now)
	r.UpdatedAt = KeptTime(r.UpdatedAt, r.CreatedAt)
	r.DueAt = KeptTime(r.DueAt, time.Time{})
	r.FinishedAt = KeptTime(r.FinishedAt, time.Time{})
	r.Before = KeptAccount(r.Before)
	if before, err = AccountJSON(r.Before); err != nil {
		return nil, fmt.Errorf("revocation of %s in %s: before: %w", r.AccountID, r.ApplicationID, err)
	}
	return before, nil
}

// ActiveConflict is the error of inserting r while the same revocation is
// active (the unique index on active revocations refused it).
func ActiveConflict(r store.Revocation) error {
	return fmt.Errorf("%s of %s in %s for %s: already active: %w", r.Action, r.AccountID, r.ApplicationID,
		r.IdentityID, store.ErrConflict)
}

// UpdateConflict is the error of an update that would make revocation id
// a second active one of the same kind.
func UpdateConflict(id int64) error {
	return fmt.Errorf("revocation %d: the same revocation is already active: %w", id, store.ErrConflict)
}

// DecodeBefore fills in r's Before from its column (not NULL).
func DecodeBefore(r *store.Revocation, before string) error {
	r.Before = new(account.Account)
	if err := json.Unmarshal([]byte(before), r.Before); err != nil {
		return fmt.Errorf("revocation %d: before: %w", r.ID, err)
	}
	// As written it is kept already; this keeps it whatever the column
	// made of it.
	r.Before.SeenAt = KeptTime(r.Before.SeenAt, time.Time{})
	return nil
}

// CheckRevocationState is the compare-and-set of a revocation's state:
// ErrConflict when r is in none of from.
func CheckRevocationState(r store.Revocation, from []store.RevocationState) error {
	if !slices.Contains(from, r.State) {
		return fmt.Errorf("revocation %d is %s, not %s: %w", r.ID, r.State, JoinStates(from), store.ErrConflict)
	}
	return nil
}

// Assignment is one "column = value" of an UPDATE. A time.Time value is
// for the store to bind as it keeps times, the zero time as NULL.
type Assignment struct {
	Column string
	Value  any
}

// RevocationAssignments is what applying u at now changes in a revocation's
// row: updated_at, then each column u sets.
func RevocationAssignments(u store.RevocationUpdate, now time.Time) ([]Assignment, error) {
	as := []Assignment{{"updated_at", now}}
	set := func(col string, v any) { as = append(as, Assignment{col, v}) }
	if u.State != "" {
		set("state", string(u.State))
	}
	if u.DueAt != nil {
		set("due_at", *u.DueAt)
	}
	if u.Attempts != nil {
		set("attempts", *u.Attempts)
	}
	if u.Pauses != nil {
		set("pauses", *u.Pauses)
	}
	if u.LastError != nil {
		set("last_error", *u.LastError)
	}
	if u.Result != nil {
		set("result", *u.Result)
	}
	if u.CancelReason != nil {
		set("cancel_reason", *u.CancelReason)
	}
	if u.FinishedAt != nil {
		set("finished_at", *u.FinishedAt)
	}
	if u.Before != nil {
		before, err := AccountJSON(KeptAccount(u.Before))
		if err != nil {
			return nil, fmt.Errorf("before: %w", err)
		}
		set("before_account", before)
	}
	if u.Unqueue {
		set("queued", false)
	}
	return as, nil
}

// Updated is r as an update u at now leaves it, as the stores keep it:
// what UpdateRevocation returns without reading the row again.
func Updated(r store.Revocation, u store.RevocationUpdate, now time.Time) (store.Revocation, error) {
	r.UpdatedAt = KeptTime(now, time.Time{})
	if u.State != "" {
		r.State = u.State
	}
	if u.DueAt != nil {
		r.DueAt = KeptTime(*u.DueAt, time.Time{})
	}
	if u.Attempts != nil {
		r.Attempts = *u.Attempts
	}
	if u.Pauses != nil {
		r.Pauses = *u.Pauses
	}
	if u.LastError != nil {
		r.LastError = *u.LastError
	}
	if u.Result != nil {
		r.Result = *u.Result
	}
	if u.CancelReason != nil {
		r.CancelReason = *u.CancelReason
	}
	if u.FinishedAt != nil {
		r.FinishedAt = KeptTime(*u.FinishedAt, time.Time{})
	}
	if u.Before != nil {
		// As it reads back: through its stored JSON.
		stored, err := AccountJSON(KeptAccount(u.Before))
		if err != nil {
			return r, fmt.Errorf("before: %w", err)
		}
		if err := DecodeBefore(&r, stored.(string)); err != nil {
			return r, err
		}
	}
	if u.Unqueue {
		r.Queued = false
	}
	return r, nil
}

// RevocationEvent is ev naming r (the revocation, its run, rule, identity
// and application) where it names none.
func RevocationEvent(ev audit.Event, r store.Revocation) audit.Event {
	ev.RevocationID = cmp.Or(ev.RevocationID, r.ID)
	ev.RunID = cmp.Or(ev.RunID, r.RunID)
	ev.RuleID = cmp.Or(ev.RuleID, r.RuleID)
	ev.IdentityID = cmp.Or(ev.IdentityID, r.IdentityID)
	ev.ApplicationID = cmp.Or(ev.ApplicationID, r.ApplicationID)
	return ev
}

// RevocationOrder is the ORDER BY of a revocation query.
func RevocationOrder(q store.RevocationQuery) string {
	if q.LatestFirst {
		return "finished_at DESC NULLS LAST, id DESC"
	}
	return "id"
}
