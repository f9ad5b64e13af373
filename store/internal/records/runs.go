package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

// NewRun is a copy of CreateRun's run as the stores keep it: its times
// kept (StartedAt now when zero), its items its own.
func NewRun(run *store.Run, now time.Time) (store.Run, error) {
	if run == nil {
		return store.Run{}, errors.New("create run: no run")
	}
	r := *run
	r.StartedAt = KeptTime(r.StartedAt, now)
	r.FinishedAt = KeptTime(r.FinishedAt, time.Time{})
	r.FireAt = KeptTime(r.FireAt, time.Time{})
	r.Items = slices.Clone(r.Items)
	for i := range r.Items {
		r.Items[i].DueAt = KeptTime(r.Items[i].DueAt, time.Time{})
	}
	return r, nil
}

// RunJSON is the stored form of a run's counts and items ("[]" for none).
func RunJSON(run store.Run) (counts, items string, err error) {
	c, err := json.Marshal(run.Counts)
	if err != nil {
		return "", "", err
	}
	if len(run.Items) == 0 {
		return string(c), "[]", nil
	}
	i, err := json.Marshal(run.Items)
	if err != nil {
		return "", "", err
	}
	return string(c), string(i), nil
}

// DecodeRunCounts fills in r's counts from their column.
func DecodeRunCounts(r *store.Run, counts string) error {
	if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
		return fmt.Errorf("run %d: counts: %w", r.ID, err)
	}
	return nil
}

// DecodeRunItems fills in r's plan items from their column.
func DecodeRunItems(r *store.Run, items string) error {
	if items == "" || items == "[]" {
		return nil
	}
	if err := json.Unmarshal([]byte(items), &r.Items); err != nil {
		return fmt.Errorf("items: %w", err)
	}
	return nil
}

// RunLimit is the size of q's page: a zero Limit is 50.
func RunLimit(q store.RunQuery) int {
	if q.Limit <= 0 {
		return 50
	}
	return q.Limit
}

// CheckRunState is the compare-and-set of a run's state: ErrConflict when
// r is in none of from.
func CheckRunState(r store.Run, from []store.RunState) error {
	if !slices.Contains(from, r.State) {
		return fmt.Errorf("run %d is %s, not %s: %w", r.ID, r.State, JoinStates(from), store.ErrConflict)
	}
	return nil
}

// RunEvent is ev naming run and its rule where it names none.
func RunEvent(ev audit.Event, run store.Run) audit.Event {
	if ev.RunID == 0 {
		ev.RunID = run.ID
	}
	if ev.RuleID == "" {
		ev.RuleID = run.RuleID
	}
	return ev
}

// RunEvents is what a run appends: events (naming the run and its rule
// where they name none), then revEvent's event for each revocation (naming
// the run and the revocation where it names none).
func RunEvents(run store.Run, events []audit.Event, revs []store.Revocation, revEvent func(store.Revocation) audit.Event) []audit.Event {
	evs := make([]audit.Event, 0, len(events)+len(revs))
	for _, ev := range events {
		evs = append(evs, RunEvent(ev, run))
	}
	if revEvent != nil {
		for _, rv := range revs {
			ev := revEvent(rv)
			if ev.RunID == 0 {
				ev.RunID = run.ID
			}
			if ev.RevocationID == 0 {
				ev.RevocationID = rv.ID
			}
			evs = append(evs, ev)
		}
	}
	return evs
}

// Matches are first-match times to record, in identity order (so that
// concurrent runs of one rule lock rows in one order), with their times
// kept. A zero time is an error.
func Matches(matches map[string]time.Time) (ids []string, ats []time.Time, err error) {
	ids = make([]string, 0, len(matches))
	for id, at := range matches {
		if at.IsZero() {
			return nil, nil, fmt.Errorf("match of %s: zero first-match time", id)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ats = make([]time.Time, len(ids))
	for i, id := range ids {
		ats[i] = KeptTime(matches[id], time.Time{})
	}
	return ids, ats, nil
}
