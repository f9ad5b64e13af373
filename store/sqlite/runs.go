package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// CreateRun stores a run, its revocations, match changes and events in one
// transaction. Events with no RunID get the new run's id (the caller cannot
// know it), and with no RuleID the run's rule.
func (s *Store) CreateRun(ctx context.Context, p store.CreateRunParams) error {
	now := s.clock()
	run, err := records.NewRun(p.Run, now)
	if err != nil {
		return err
	}
	revs := slices.Clone(p.Revocations)
	err = s.write(ctx, "create run for rule "+run.RuleID, func(tx *sql.Tx) error {
		counts, items, err := records.RunJSON(run)
		if err != nil {
			return err
		}
		if !run.FireAt.IsZero() {
			// SQLite runs one writer at a time, so looking first is enough.
			prev, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE rule_id = ? AND fire_at = ?`,
				run.RuleID, timeArg(run.FireAt)))
			if err == nil {
				return &store.RunExistsError{Run: prev}
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		r, err := tx.ExecContext(ctx, `INSERT INTO runs (rule_id, trigger, actor, state, started_at, finished_at,
			counts, items, error, fire_at) VALUES (?,?,?,?,?,?,?,?,?,?)`, run.RuleID, run.Trigger, run.Actor, string(run.State),
			timeArg(run.StartedAt), timeArg(run.FinishedAt), counts, items, run.Error, timeArg(run.FireAt))
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
		return s.appendEvents(ctx, tx, records.RunEvents(run, p.Events, revs, p.RevocationEvent)...)
	})
	if err != nil {
		return err
	}
	// Only a committed run hands ids back: a failed call leaves p untouched.
	*p.Run = run
	copy(p.Revocations, revs)
	return nil
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
		if err := records.CheckRunState(r, p.From); err != nil {
			return err
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
		return s.appendEvents(ctx, tx, records.RunEvents(r, p.Events, revs, p.RevocationEvent)...)
	})
	if err != nil {
		return store.Run{}, err
	}
	copy(p.Revocations, revs)
	return out, nil
}

func recordMatches(ctx context.Context, tx *sql.Tx, ruleID string, matches map[string]time.Time, unmatched []string) error {
	ids, ats, err := records.Matches(matches)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO matches (rule_id, identity_id, first_at) VALUES (?, ?, ?)
			ON CONFLICT (rule_id, identity_id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, id := range ids {
			if _, err := stmt.ExecContext(ctx, ruleID, id, timeArg(ats[i])); err != nil {
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

const runColumns = `id, rule_id, trigger, actor, state, started_at, finished_at, fire_at, counts, error`

func scanRun(sc records.Scanner, extra ...any) (store.Run, error) {
	var r store.Run
	var state, counts string
	var started, finished, fire sql.NullString
	if err := sc.Scan(append([]any{&r.ID, &r.RuleID, &r.Trigger, &r.Actor, &state, &started, &finished, &fire, &counts,
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
	if r.FireAt, err = parseTime(fire); err != nil {
		return r, fmt.Errorf("run %d: %w", r.ID, err)
	}
	return r, records.DecodeRunCounts(&r, counts)
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
	if err := records.DecodeRunItems(&r, items); err != nil {
		return store.Run{}, fmt.Errorf("read run %d: %w", id, err)
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
	out, err := collect(ctx, s.db, func(sc records.Scanner) (store.Run, error) { return scanRun(sc) },
		query+" ORDER BY id DESC LIMIT ?", append(args, records.RunLimit(q))...)
	if err != nil {
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
		if err := records.CheckRunState(r, from); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = ? WHERE id = ?`, string(to), id); err != nil {
			return err
		}
		r.State = to
		out = r
		return s.appendEvents(ctx, tx, records.RunEvent(ev, r))
	})
	if err != nil {
		return store.Run{}, err
	}
	return out, nil
}

// CountRuns counts runs by rule and state.
func (s *Store) CountRuns(ctx context.Context) ([]store.RunCount, error) {
	out, err := collect(ctx, s.db, records.ScanRunCount, records.CountRunsSQL)
	if err != nil {
		return nil, fmt.Errorf("count runs: %w", err)
	}
	return out, nil
}
