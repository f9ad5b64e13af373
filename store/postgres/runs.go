package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// CreateRun stores a run, its revocations, match changes and events in one
// transaction. Events with no RunID get the new run's id (the caller cannot
// know it), and with no RuleID the run's rule. When PostgreSQL aborts the
// transaction for a deadlock and the store runs it again, RevocationEvent is
// called again, with the new ids.
func (s *Store) CreateRun(ctx context.Context, p store.CreateRunParams) error {
	now := s.clock()
	run, err := records.NewRun(p.Run, now)
	if err != nil {
		return err
	}
	var revs []store.Revocation
	err = s.write(ctx, "create run for rule "+run.RuleID, func(tx pgx.Tx) error {
		revs = slices.Clone(p.Revocations)
		counts, items, err := records.RunJSON(run)
		if err != nil {
			return err
		}
		if !run.FireAt.IsZero() {
			// Nodes that create the same fire time's run take turns, so
			// the second one sees the first one's run and stores nothing.
			if err := lockKey(ctx, tx, "run:"+run.RuleID); err != nil {
				return err
			}
			prev, err := scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE rule_id = $1 AND fire_at = $2`,
				run.RuleID, timeArg(run.FireAt)))
			if err == nil {
				return &store.RunExistsError{Run: prev}
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO runs (rule_id, trigger, actor, state, started_at, finished_at,
			counts, items, error, fire_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING id`, run.RuleID, run.Trigger, run.Actor,
			string(run.State), timeArg(run.StartedAt), timeArg(run.FinishedAt), counts, items,
			run.Error, timeArg(run.FireAt)).Scan(&run.ID); err != nil {
			return err
		}
		if err := insertRevocations(ctx, tx, run, revs, now); err != nil {
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

// recordMatches records first-match times (keeping those present) and
// forgets unmatched, in key order so that concurrent runs of one rule lock
// rows in one order.
func recordMatches(ctx context.Context, tx pgx.Tx, ruleID string, matches map[string]time.Time, unmatched []string) error {
	ids, ats, err := records.Matches(matches)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO matches (rule_id, identity_id, first_at)
			SELECT $1, i, f FROM unnest($2::text[], $3::timestamptz[]) AS m(i, f)
			ON CONFLICT (rule_id, identity_id) DO NOTHING`, ruleID, ids, ats); err != nil {
			return fmt.Errorf("record matches: %w", err)
		}
	}
	if len(unmatched) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM matches WHERE rule_id = $1 AND identity_id = ANY($2)`,
			ruleID, unmatched); err != nil {
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
	if identityIDs != nil && len(identityIDs) == 0 {
		return out, nil
	}
	query, args := `SELECT identity_id, first_at FROM matches WHERE rule_id = $1`, []any{ruleID}
	if identityIDs != nil {
		query, args = query+` AND identity_id = ANY($2)`, append(args, identityIDs)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read matches of rule %s: %w", ruleID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("read matches of rule %s: %w", ruleID, err)
		}
		out[id] = at.UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read matches of rule %s: %w", ruleID, err)
	}
	return out, nil
}

const runColumns = `id, rule_id, trigger, actor, state, started_at, finished_at, fire_at, counts, error`

func scanRun(sc scanner, extra ...any) (store.Run, error) {
	var r store.Run
	var state, counts string
	var started, finished, fire *time.Time
	if err := sc.Scan(append([]any{&r.ID, &r.RuleID, &r.Trigger, &r.Actor, &state, &started, &finished, &fire, &counts,
		&r.Error}, extra...)...); err != nil {
		return r, err
	}
	r.State = store.RunState(state)
	r.StartedAt, r.FinishedAt, r.FireAt = timeOf(started), timeOf(finished), timeOf(fire)
	return r, records.DecodeRunCounts(&r, counts)
}

// Run returns a run with its plan items.
func (s *Store) Run(ctx context.Context, id int64) (store.Run, error) {
	return readRun(ctx, s.pool, id, "")
}

// readRun reads a run with its items; lock is "" or " FOR UPDATE".
func readRun(ctx context.Context, q db, id int64, lock string) (store.Run, error) {
	var items string
	r, err := scanRun(q.QueryRow(ctx, `SELECT `+runColumns+`, items FROM runs WHERE id = $1`+lock, id), &items)
	if errors.Is(err, pgx.ErrNoRows) {
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
	var w where
	if q.RuleID != "" {
		w.add("rule_id = ?", q.RuleID)
	}
	if q.State != "" {
		w.add("state = ?", string(q.State))
	}
	if q.Before != 0 {
		w.add("id < ?", q.Before)
	}
	query := `SELECT ` + runColumns + ` FROM runs` + w.sql() + ` ORDER BY id DESC LIMIT ` + w.arg(records.RunLimit(q))
	out, err := collect(ctx, s.pool, func(sc scanner) (store.Run, error) { return scanRun(sc) }, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// lockRunIn reads and locks a run, and checks that it is in one of from.
func lockRunIn(ctx context.Context, tx pgx.Tx, id int64, from []store.RunState) (store.Run, error) {
	r, err := readRun(ctx, tx, id, " FOR UPDATE")
	if err != nil {
		return store.Run{}, err
	}
	if err := records.CheckRunState(r, from); err != nil {
		return store.Run{}, err
	}
	return r, nil
}

// UpdateRunState moves a run from one of from to to and appends ev (with
// the run's id and rule filled in when ev names none).
func (s *Store) UpdateRunState(ctx context.Context, id int64, from []store.RunState, to store.RunState, ev audit.Event) (store.Run, error) {
	var out store.Run
	err := s.write(ctx, fmt.Sprintf("update run %d", id), func(tx pgx.Tx) error {
		r, err := lockRunIn(ctx, tx, id, from)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE runs SET state = $1 WHERE id = $2`, string(to), id); err != nil {
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

// ResolveRun moves a run from one of p.From to p.To and schedules its
// revocations, records its matches and appends its events, atomically; the
// events are completed as CreateRun completes them. Revocation ids are
// handed back in p.Revocations only when the call commits.
func (s *Store) ResolveRun(ctx context.Context, p store.ResolveRunParams) (store.Run, error) {
	now := s.clock()
	var revs []store.Revocation
	var out store.Run
	err := s.write(ctx, fmt.Sprintf("resolve run %d", p.ID), func(tx pgx.Tx) error {
		revs = slices.Clone(p.Revocations)
		r, err := lockRunIn(ctx, tx, p.ID, p.From)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE runs SET state = $1 WHERE id = $2`, string(p.To), p.ID); err != nil {
			return err
		}
		r.State = p.To
		if err := insertRevocations(ctx, tx, r, revs, now); err != nil {
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

// CountRuns counts runs by rule and state.
func (s *Store) CountRuns(ctx context.Context) ([]store.RunCount, error) {
	out, err := collect(ctx, s.pool, records.ScanRunCount, records.CountRunsSQL)
	if err != nil {
		return nil, fmt.Errorf("count runs: %w", err)
	}
	return out, nil
}
