package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

// CreateRun stores a run, its revocations, match changes and events in one
// transaction. Events with no RunID get the new run's id (the caller cannot
// know it), and with no RuleID the run's rule.
func (s *Store) CreateRun(ctx context.Context, p store.CreateRunParams) error {
	if p.Run == nil {
		return errors.New("create run: no run")
	}
	now := s.clock()
	run := *p.Run
	run.StartedAt = keptTime(run.StartedAt, now)
	run.FinishedAt = keptTime(run.FinishedAt, time.Time{})
	run.Items = slices.Clone(run.Items)
	for i := range run.Items {
		run.Items[i].DueAt = keptTime(run.Items[i].DueAt, time.Time{})
	}
	revs := slices.Clone(p.Revocations)
	err := s.write(ctx, "create run for rule "+run.RuleID, func(tx *sql.Tx) error {
		counts, err := json.Marshal(run.Counts)
		if err != nil {
			return err
		}
		items := []byte("[]")
		if len(run.Items) > 0 {
			if items, err = json.Marshal(run.Items); err != nil {
				return err
			}
		}
		r, err := tx.ExecContext(ctx, `INSERT INTO runs (rule_id, trigger, actor, state, started_at, finished_at,
			counts, items, error) VALUES (?,?,?,?,?,?,?,?,?)`, run.RuleID, run.Trigger, run.Actor, string(run.State),
			timeArg(run.StartedAt), timeArg(run.FinishedAt), string(counts), string(items), run.Error)
		if err != nil {
			return err
		}
		if run.ID, err = r.LastInsertId(); err != nil {
			return err
		}
		if err := s.insertRevocations(ctx, tx, run, revs, now); err != nil {
			return err
		}
		if err := recordMatches(ctx, tx, run.RuleID, p.Matches, p.Unmatched); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, runEvents(run, p.Events, revs, p.RevocationEvent)...)
	})
	if err != nil {
		return err
	}
	// Only a committed run hands ids back: a failed call leaves p untouched.
	*p.Run = run
	copy(p.Revocations, revs)
	return nil
}

// runEvents is what a run appends: events (naming the run and its rule
// where they name none), then revEvent's event for each revocation (naming
// the run and the revocation where it names none).
func runEvents(run store.Run, events []audit.Event, revs []store.Revocation, revEvent func(store.Revocation) audit.Event) []audit.Event {
	evs := slices.Clone(events)
	for i := range evs {
		if evs[i].RunID == 0 {
			evs[i].RunID = run.ID
		}
		if evs[i].RuleID == "" {
			evs[i].RuleID = run.RuleID
		}
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

// ResolveRun moves a run from one of p.From to p.To and schedules its
// revocations, records its matches and appends its events, atomically; the
// events are completed as CreateRun completes them. Revocation ids are
// handed back in p.Revocations only when the call commits.
func (s *Store) ResolveRun(ctx context.Context, p store.ResolveRunParams) (store.Run, error) {
	now := s.clock()
	revs := slices.Clone(p.Revocations)
	var out store.Run
	err := s.write(ctx, fmt.Sprintf("resolve run %d", p.ID), func(tx *sql.Tx) error {
		r, err := readRun(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		if !slices.Contains(p.From, r.State) {
			return fmt.Errorf("run %d is %s, not %s: %w", p.ID, r.State, joinStates(p.From), store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = ? WHERE id = ?`, string(p.To), p.ID); err != nil {
			return err
		}
		r.State = p.To
		if err := s.insertRevocations(ctx, tx, r, revs, now); err != nil {
			return err
		}
		if err := recordMatches(ctx, tx, r.RuleID, p.Matches, nil); err != nil {
			return err
		}
		out = r
		return s.appendEvents(ctx, tx, runEvents(r, p.Events, revs, p.RevocationEvent)...)
	})
	if err != nil {
		return store.Run{}, err
	}
	copy(p.Revocations, revs)
	return out, nil
}

// keptTime is t as the store keeps it, or def when t is zero.
func keptTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t.UTC().Truncate(time.Microsecond)
}

func recordMatches(ctx context.Context, tx *sql.Tx, ruleID string, matches map[string]time.Time, unmatched []string) error {
	if len(matches) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO matches (rule_id, identity_id, first_at) VALUES (?, ?, ?)
			ON CONFLICT (rule_id, identity_id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, at := range matches {
			if at.IsZero() {
				return fmt.Errorf("match of %s: zero first-match time", id)
			}
			if _, err := stmt.ExecContext(ctx, ruleID, id, timeArg(at)); err != nil {
				return fmt.Errorf("match of %s: %w", id, err)
			}
		}
	}
	for _, chunk := range chunks(unmatched) {
		list, args := in(chunk)
		if _, err := tx.ExecContext(ctx, `DELETE FROM matches WHERE rule_id = ? AND identity_id IN `+list,
			append([]any{ruleID}, args...)...); err != nil {
			return fmt.Errorf("forget matches: %w", err)
		}
	}
	return nil
}

// Matches returns the rule's first-match times of those identities that it
// still matches. A nil identityIDs returns all of the rule's matches (what
// a run needs to find the identities it no longer matches).
func (s *Store) Matches(ctx context.Context, ruleID string, identityIDs []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	query := `SELECT identity_id, first_at FROM matches WHERE rule_id = ?`
	if identityIDs == nil {
		if err := s.readMatches(ctx, out, query, ruleID); err != nil {
			return nil, fmt.Errorf("read matches of rule %s: %w", ruleID, err)
		}
		return out, nil
	}
	for _, chunk := range chunks(identityIDs) {
		list, args := in(chunk)
		if err := s.readMatches(ctx, out, query+` AND identity_id IN `+list, append([]any{ruleID}, args...)...); err != nil {
			return nil, fmt.Errorf("read matches of rule %s: %w", ruleID, err)
		}
	}
	return out, nil
}

func (s *Store) readMatches(ctx context.Context, out map[string]time.Time, query string, args ...any) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var at sql.NullString
		if err := rows.Scan(&id, &at); err != nil {
			return err
		}
		t, err := parseTime(at)
		if err != nil {
			return err
		}
		out[id] = t
	}
	return rows.Err()
}

const runColumns = `id, rule_id, trigger, actor, state, started_at, finished_at, counts, error`

func scanRun(sc interface{ Scan(...any) error }, extra ...any) (store.Run, error) {
	var r store.Run
	var state, counts string
	var started, finished sql.NullString
	if err := sc.Scan(append([]any{&r.ID, &r.RuleID, &r.Trigger, &r.Actor, &state, &started, &finished, &counts,
		&r.Error}, extra...)...); err != nil {
		return r, err
	}
	r.State = store.RunState(state)
	var err error
	if r.StartedAt, err = parseTime(started); err != nil {
		return r, fmt.Errorf("run %d: %w", r.ID, err)
	}
	if r.FinishedAt, err = parseTime(finished); err != nil {
		return r, fmt.Errorf("run %d: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
		return r, fmt.Errorf("run %d: counts: %w", r.ID, err)
	}
	return r, nil
}

// Run returns a run with its plan items.
func (s *Store) Run(ctx context.Context, id int64) (store.Run, error) {
	r, err := readRun(ctx, s.db, id)
	if err != nil {
		return store.Run{}, err
	}
	return r, nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readRun(ctx context.Context, db queryRower, id int64) (store.Run, error) {
	var items string
	r, err := scanRun(db.QueryRowContext(ctx, `SELECT `+runColumns+`, items FROM runs WHERE id = ?`, id), &items)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Run{}, fmt.Errorf("run %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("read run %d: %w", id, err)
	}
	if items != "" && items != "[]" {
		if err := json.Unmarshal([]byte(items), &r.Items); err != nil {
			return store.Run{}, fmt.Errorf("read run %d: items: %w", id, err)
		}
	}
	return r, nil
}

// ListRuns returns runs newest first, without their items.
func (s *Store) ListRuns(ctx context.Context, q store.RunQuery) ([]store.Run, error) {
	var where []string
	var args []any
	if q.RuleID != "" {
		where, args = append(where, "rule_id = ?"), append(args, q.RuleID)
	}
	if q.State != "" {
		where, args = append(where, "state = ?"), append(args, string(q.State))
	}
	if q.Before != 0 {
		where, args = append(where, "id < ?"), append(args, q.Before)
	}
	query := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, query+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// UpdateRunState moves a run from one of from to to and appends ev (with
// the run's id and rule filled in when ev names none).
func (s *Store) UpdateRunState(ctx context.Context, id int64, from []store.RunState, to store.RunState, ev audit.Event) (store.Run, error) {
	var out store.Run
	err := s.write(ctx, fmt.Sprintf("update run %d", id), func(tx *sql.Tx) error {
		r, err := readRun(ctx, tx, id)
		if err != nil {
			return err
		}
		if !slices.Contains(from, r.State) {
			return fmt.Errorf("run %d is %s, not %s: %w", id, r.State, joinStates(from), store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = ? WHERE id = ?`, string(to), id); err != nil {
			return err
		}
		r.State = to
		if ev.RunID == 0 {
			ev.RunID = id
		}
		if ev.RuleID == "" {
			ev.RuleID = r.RuleID
		}
		out = r
		return s.appendEvents(ctx, tx, ev)
	})
	if err != nil {
		return store.Run{}, err
	}
	return out, nil
}

func joinStates[T ~string](states []T) string {
	if len(states) == 0 {
		return "(none)"
	}
	ss := make([]string, len(states))
	for i, st := range states {
		ss[i] = string(st)
	}
	return strings.Join(ss, " or ")
}
