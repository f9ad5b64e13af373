package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// ReplaceAccounts upserts an application's aggregated accounts and marks the
// ones it no longer lists deleted.
func (s *Store) ReplaceAccounts(ctx context.Context, appID string, accts []account.Account, ev audit.Event) (store.AggregateResult, error) {
	var res store.AggregateResult
	err := s.write(ctx, "replace accounts of "+appID, func(tx *sql.Tx) error {
		res = store.AggregateResult{}
		now := s.clock()
		// Every row this call lists gets a new sweep number; rows of the
		// application left with an older one were not listed.
		var sweep int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(sweep), 0) + 1 FROM accounts WHERE application_id = ?`,
			appID).Scan(&sweep); err != nil {
			return err
		}
		up, err := tx.PrepareContext(ctx, `INSERT INTO accounts (application_id, native_id, user_name, email, state,
			entitlements, attributes, identity_id, seen_at, sweep) VALUES (?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (application_id, native_id) DO UPDATE SET user_name = excluded.user_name,
			email = excluded.email, state = excluded.state, entitlements = excluded.entitlements,
			attributes = excluded.attributes, identity_id = excluded.identity_id, seen_at = excluded.seen_at,
			sweep = excluded.sweep`)
		if err != nil {
			return err
		}
		defer up.Close()
		for _, a := range accts {
			row, err := records.NewAccountRow(appID, a, now)
			if err != nil {
				return err
			}
			if _, err := up.ExecContext(ctx, appID, row.NativeID, row.UserName, row.Email, string(row.State), row.Ents,
				row.Attrs, records.NullString(row.IdentityID), timeArg(row.SeenAt), sweep); err != nil {
				return fmt.Errorf("account %s: %w", row.NativeID, err)
			}
			records.TallyAccount(&res, row)
		}
		r, err := tx.ExecContext(ctx, `UPDATE accounts SET state = ? WHERE application_id = ? AND sweep <> ? AND state <> ?`,
			string(account.Deleted), appID, sweep, string(account.Deleted))
		if err != nil {
			return fmt.Errorf("mark unlisted accounts deleted: %w", err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return err
		}
		res.Removed = int(n)
		return s.appendEvents(ctx, tx, records.WithAggregateCounts(ev, res))
	})
	if err != nil {
		return store.AggregateResult{}, err
	}
	return res, nil
}

const accountColumns = `application_id, native_id, user_name, email, state, entitlements, attributes, identity_id, seen_at`

func scanAccount(sc records.Scanner) (account.Account, error) {
	var a account.Account
	var state, ents, attrs string
	var identityID, seen sql.NullString
	if err := sc.Scan(&a.ApplicationID, &a.NativeID, &a.UserName, &a.Email, &state, &ents, &attrs, &identityID,
		&seen); err != nil {
		return a, err
	}
	a.State = account.State(state)
	a.IdentityID = identityID.String
	if err := records.DecodeAccount(&a, ents, attrs); err != nil {
		return a, err
	}
	var err error
	if a.SeenAt, err = parseTime(seen); err != nil {
		return a, fmt.Errorf("account %s/%s: %w", a.ApplicationID, a.NativeID, err)
	}
	return a, nil
}

// ListAccounts pages accounts in (application, native id) order.
//
// A nil IdentityIDs does not filter; a non-nil empty one selects nothing,
// so that asking for the accounts of no identities never returns them all.
func (s *Store) ListAccounts(ctx context.Context, q store.AccountQuery) ([]account.Account, error) {
	var where []string
	var args []any
	if q.ApplicationID != "" {
		// With identities given, the unary + keeps SQLite from choosing the
		// primary key (application, native id) over the identity index, which
		// would walk every account of the application for each lookup.
		col := "application_id = ?"
		if q.IdentityIDs != nil {
			col = "+application_id = ?"
		}
		where, args = append(where, col), append(args, q.ApplicationID)
	}
	if q.Uncorrelated {
		where = append(where, "identity_id IS NULL")
	}
	if !q.IncludeDeleted {
		where, args = append(where, "state <> ?"), append(args, string(account.Deleted))
	}
	if q.After != "" {
		app, native, _ := strings.Cut(q.After, "/")
		where, args = append(where, "(application_id, native_id) > (?, ?)"), append(args, app, native)
	}
	if q.IdentityTo != "" {
		where, args = append(where, "identity_id >= ? AND identity_id <= ?"), append(args, q.IdentityFrom, q.IdentityTo)
		if q.IdentityIDs == nil {
			// One walk of the identity index over the range, unordered.
			return s.listAccounts(ctx, where, args, q.Limit, false)
		}
	}
	if q.IdentityIDs == nil {
		return s.listAccounts(ctx, where, args, q.Limit, true)
	}
	var out []account.Account
	for _, chunk := range chunks(records.Distinct(q.IdentityIDs)) {
		list, inArgs := in(chunk)
		// Unordered, so that SQLite looks the identities up by their index
		// instead of walking the application's accounts in key order; the
		// pages are sorted below.
		page, err := s.listAccounts(ctx, append(slices.Clone(where), "identity_id IN "+list),
			append(slices.Clone(args), inArgs...), 0, false)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
	}
	slices.SortFunc(out, func(a, b account.Account) int {
		return cmp.Or(cmp.Compare(a.ApplicationID, b.ApplicationID), cmp.Compare(a.NativeID, b.NativeID))
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func (s *Store) listAccounts(ctx context.Context, where []string, args []any, limit int, ordered bool) ([]account.Account, error) {
	query := `SELECT ` + accountColumns + ` FROM accounts`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if ordered {
		query += " ORDER BY application_id, native_id"
	}
	if limit > 0 {
		query, args = query+" LIMIT ?", append(args, limit)
	}
	out, err := collect(ctx, s.db, scanAccount, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// CorrelateAccount links (or, with identityID "", unlinks) an account.
func (s *Store) CorrelateAccount(ctx context.Context, appID, nativeID, identityID string) error {
	r, err := s.db.ExecContext(ctx, `UPDATE accounts SET identity_id = ? WHERE application_id = ? AND native_id = ?`,
		records.NullString(identityID), appID, nativeID)
	if err != nil {
		return fmt.Errorf("correlate account %s/%s: %w", appID, nativeID, err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return fmt.Errorf("correlate account %s/%s: %w", appID, nativeID, err)
	} else if n == 0 {
		return fmt.Errorf("account %s/%s: %w", appID, nativeID, store.ErrNotFound)
	}
	return nil
}
