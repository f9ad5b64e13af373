package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// ReplaceAccounts upserts an application's aggregated accounts and marks the
// ones it no longer lists deleted. Aggregations of one application take
// turns (an advisory lock per application).
func (s *Store) ReplaceAccounts(ctx context.Context, appID string, accts []account.Account, ev audit.Event) (store.AggregateResult, error) {
	var res store.AggregateResult
	err := s.write(ctx, "replace accounts of "+appID, func(tx pgx.Tx) error {
		res = store.AggregateResult{}
		if err := lockKey(ctx, tx, "accounts:"+appID); err != nil {
			return err
		}
		now := s.clock()
		// Every row this call lists gets a new sweep number; rows of the
		// application left with an older one were not listed.
		var sweep int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(sweep), 0) + 1 FROM accounts WHERE application_id = $1`,
			appID).Scan(&sweep); err != nil {
			return err
		}
		var b pgx.Batch
		flush := func() error {
			if b.Len() == 0 {
				return nil
			}
			err := tx.SendBatch(ctx, &b).Close()
			b = pgx.Batch{}
			return err
		}
		for _, a := range accts {
			row, err := records.NewAccountRow(appID, a, now)
			if err != nil {
				return err
			}
			b.Queue(`INSERT INTO accounts (application_id, native_id, user_name, email, state, entitlements,
				attributes, identity_id, seen_at, sweep) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
				ON CONFLICT (application_id, native_id) DO UPDATE SET user_name = excluded.user_name,
				email = excluded.email, state = excluded.state, entitlements = excluded.entitlements,
				attributes = excluded.attributes, identity_id = excluded.identity_id, seen_at = excluded.seen_at,
				sweep = excluded.sweep`, appID, row.NativeID, row.UserName, row.Email, string(row.State), row.Ents,
				row.Attrs, records.NullString(row.IdentityID), row.SeenAt, sweep)
			records.TallyAccount(&res, row)
			if b.Len() >= syncBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE accounts SET state = $1 WHERE application_id = $2 AND sweep <> $3 AND state <> $1`,
			string(account.Deleted), appID, sweep)
		if err != nil {
			return fmt.Errorf("mark unlisted accounts deleted: %w", err)
		}
		res.Removed = int(tag.RowsAffected())
		return s.appendEvents(ctx, tx, records.WithAggregateCounts(ev, res))
	})
	if err != nil {
		return store.AggregateResult{}, err
	}
	return res, nil
}

const accountColumns = `application_id, native_id, user_name, email, state, entitlements, attributes, identity_id, seen_at`

func scanAccount(sc scanner) (account.Account, error) {
	var a account.Account
	var state, ents, attrs string
	var identityID *string
	var seen *time.Time
	if err := sc.Scan(&a.ApplicationID, &a.NativeID, &a.UserName, &a.Email, &state, &ents, &attrs, &identityID,
		&seen); err != nil {
		return a, err
	}
	a.State = account.State(state)
	if identityID != nil {
		a.IdentityID = *identityID
	}
	if err := records.DecodeAccount(&a, ents, attrs); err != nil {
		return a, err
	}
	a.SeenAt = timeOf(seen)
	return a, nil
}

// ListAccounts pages accounts in (application, native id) order.
//
// A nil IdentityIDs does not filter; a non-nil empty one selects nothing,
// so that asking for the accounts of no identities never returns them all.
func (s *Store) ListAccounts(ctx context.Context, q store.AccountQuery) ([]account.Account, error) {
	if q.IdentityIDs != nil && len(q.IdentityIDs) == 0 {
		return nil, nil
	}
	var w where
	if q.ApplicationID != "" {
		w.add("application_id = ?", q.ApplicationID)
	}
	if q.Uncorrelated {
		w.add("identity_id IS NULL")
	}
	if !q.IncludeDeleted {
		w.add("state <> ?", string(account.Deleted))
	}
	if q.After != "" {
		app, native, _ := strings.Cut(q.After, "/")
		w.add("(application_id, native_id) > (?, ?)", app, native)
	}
	if q.IdentityIDs != nil {
		w.add("identity_id = ANY(?)", records.Distinct(q.IdentityIDs))
	}
	order := " ORDER BY application_id, native_id"
	if q.IdentityTo != "" {
		w.add("identity_id >= ? AND identity_id <= ?", q.IdentityFrom, q.IdentityTo)
		if q.IdentityIDs == nil {
			order = "" // one walk of the identity index over the range
		}
	}
	query := `SELECT ` + accountColumns + ` FROM accounts` + w.sql() + order
	if q.Limit > 0 {
		query += " LIMIT " + w.arg(q.Limit)
	}
	out, err := collect(ctx, s.pool, scanAccount, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// CorrelateAccount links (or, with identityID "", unlinks) an account.
func (s *Store) CorrelateAccount(ctx context.Context, appID, nativeID, identityID string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE accounts SET identity_id = $1 WHERE application_id = $2 AND native_id = $3`,
		records.NullString(identityID), appID, nativeID)
	if err != nil {
		return fmt.Errorf("correlate account %s/%s: %w", appID, nativeID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("account %s/%s: %w", appID, nativeID, store.ErrNotFound)
	}
	return nil
}
