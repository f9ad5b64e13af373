package records

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

// AccountRow is an aggregated account with the columns the stores derive
// from it.
type AccountRow struct {
	// Account has its ApplicationID filled in and its SeenAt kept (the
	// aggregation's time when it was zero).
	account.Account
	// Ents and Attrs are the entitlements and attributes columns (JSON).
	Ents, Attrs string
}

// NewAccountRow checks that a may be stored as one of appID's accounts (its
// ApplicationID is empty or appID, and it has a native id) and builds its
// row; now is the aggregation's time.
func NewAccountRow(appID string, a account.Account, now time.Time) (AccountRow, error) {
	switch {
	case a.ApplicationID == "":
		a.ApplicationID = appID
	case a.ApplicationID != appID:
		return AccountRow{}, fmt.Errorf("account %s: belongs to application %q", a.NativeID, a.ApplicationID)
	}
	if a.NativeID == "" {
		return AccountRow{}, fmt.Errorf("account %q: empty native id", a.UserName)
	}
	a.SeenAt = KeptTime(a.SeenAt, now)
	row := AccountRow{Account: a}
	var err error
	if row.Ents, err = entitlementsJSON(a.Entitlements); err != nil {
		return AccountRow{}, fmt.Errorf("account %s: %w", a.NativeID, err)
	}
	if row.Attrs, err = AttributesJSON(a.Attributes); err != nil {
		return AccountRow{}, fmt.Errorf("account %s: %w", a.NativeID, err)
	}
	return row, nil
}

// TallyAccount counts a listed account in res.
func TallyAccount(res *store.AggregateResult, row AccountRow) {
	res.Accounts++
	if row.IdentityID != "" {
		res.Correlated++
	} else {
		res.Uncorrelated++
	}
}

// WithAggregateCounts returns ev with res's counts added to its Detail.
func WithAggregateCounts(ev audit.Event, res store.AggregateResult) audit.Event {
	return WithDetail(ev, map[string]any{
		"accounts": res.Accounts, "correlated": res.Correlated, "uncorrelated": res.Uncorrelated,
		"removed": res.Removed,
	})
}

func entitlementsJSON(es []account.Entitlement) (string, error) {
	if len(es) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(es)
	return string(b), err
}

// DecodeAccount fills in a's entitlements and attributes from their
// columns.
func DecodeAccount(a *account.Account, ents, attrs string) error {
	if ents != "" && ents != "[]" {
		if err := json.Unmarshal([]byte(ents), &a.Entitlements); err != nil {
			return fmt.Errorf("account %s/%s: entitlements: %w", a.ApplicationID, a.NativeID, err)
		}
	}
	var err error
	if a.Attributes, err = ParseAttributes(attrs); err != nil {
		return fmt.Errorf("account %s/%s: %w", a.ApplicationID, a.NativeID, err)
	}
	return nil
}

// KeptAccount is a copy of a as the stores keep it (its time in UTC at
// microseconds), or nil.
func KeptAccount(a *account.Account) *account.Account {
	if a == nil {
		return nil
	}
	c := *a
	c.SeenAt = KeptTime(c.SeenAt, time.Time{})
	return &c
}

// AccountJSON is the stored form of a revocation's Before: NULL for nil.
func AccountJSON(a *account.Account) (any, error) {
	if a == nil {
		return nil, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}
