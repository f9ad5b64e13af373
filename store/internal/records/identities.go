package records

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

// IdentityRow is a delivered identity with the columns the stores derive
// from it.
type IdentityRow struct {
	// Identity has its SourceID filled in.
	identity.Identity
	Key string
	// Hash is the content hash that decides whether the identity changed.
	Hash string
	// End is the end date as it was given.
	End string
	// Attrs is the attributes column (JSON, "{}" for none).
	Attrs string
	// Search, UserNameFold and StatusFold are what case-insensitive
	// lookups match.
	Search, UserNameFold, StatusFold string
}

// NewIdentityRow checks that id may be synced as one of sourceID's (its
// SourceID is empty or sourceID, and it has an external id) and builds its
// row.
func NewIdentityRow(sourceID string, id identity.Identity) (IdentityRow, error) {
	if id.SourceID != "" && id.SourceID != sourceID {
		return IdentityRow{}, fmt.Errorf("identity %s: belongs to source %q", id.ID(), id.SourceID)
	}
	if id.ExternalID == "" {
		return IdentityRow{}, fmt.Errorf("identity of user %q: empty external id", id.UserName)
	}
	id.SourceID = sourceID
	row := IdentityRow{Identity: id, Key: id.ID(), End: id.EndDate.String(), Search: SearchText(id),
		UserNameFold: Fold(id.UserName), StatusFold: Fold(id.Status)}
	var err error
	if row.Hash, row.Attrs, err = contentHash(id); err != nil {
		return IdentityRow{}, fmt.Errorf("identity %s: %w", row.Key, err)
	}
	return row, nil
}

// StoredIdentity is what a sync compares a delivered identity with.
type StoredIdentity struct{ Hash, Status, EndDate string }

// Stored is what writing r leaves stored.
func (r IdentityRow) Stored() StoredIdentity {
	return StoredIdentity{Hash: r.Hash, Status: r.Status, EndDate: r.End}
}

// Change is what a sync does with one delivered identity.
type Change int

// Changes.
const (
	Unchanged Change = iota
	Insert
	Update
)

// Tally decides what a sync does with row given what is stored (found
// false: nothing yet), and counts it in res.
func Tally(res *store.SyncResult, row IdentityRow, old StoredIdentity, found bool) Change {
	switch {
	case !found:
		res.Created++
		res.Changed = append(res.Changed, row.Key)
		return Insert
	case old.Hash == row.Hash:
		res.Unchanged++
		return Unchanged
	}
	res.Updated++
	res.Changed = append(res.Changed, row.Key)
	if !strings.EqualFold(old.Status, row.Status) || old.EndDate != row.End {
		res.StatusChanged++
	}
	return Update
}

// WithSyncCounts returns ev with res's counts added to its Detail.
func WithSyncCounts(ev audit.Event, res store.SyncResult) audit.Event {
	return WithDetail(ev, map[string]any{
		"created": res.Created, "updated": res.Updated, "unchanged": res.Unchanged,
		"statusChanged": res.StatusChanged,
	})
}

// identityContent is what decides whether a record changed: every field
// but UpdatedAt, the end date as it was given.
type identityContent struct {
	UserName    string            `json:"u"`
	Email       string            `json:"e"`
	DisplayName string            `json:"d"`
	Status      string            `json:"s"`
	EndDate     string            `json:"ed"`
	Department  string            `json:"dep"`
	Manager     string            `json:"m"`
	Attributes  map[string]string `json:"a"`
}

// contentHash returns the identity's content hash and its attributes JSON.
func contentHash(id identity.Identity) (hash, attrs string, err error) {
	a, err := AttributesJSON(id.Attributes)
	if err != nil {
		return "", "", err
	}
	attrMap := id.Attributes
	if len(attrMap) == 0 {
		attrMap = nil
	}
	b, err := json.Marshal(identityContent{
		UserName: id.UserName, Email: id.Email, DisplayName: id.DisplayName, Status: id.Status,
		EndDate: id.EndDate.String(), Department: id.Department, Manager: id.Manager, Attributes: attrMap,
	})
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), a, nil
}

// DecodeIdentity fills in id's end date and attributes from their columns.
func DecodeIdentity(id *identity.Identity, key, endDate, attrs string) error {
	var err error
	if id.EndDate, err = identity.ParseEndDate(endDate); err != nil {
		return fmt.Errorf("identity %s: end date: %w", key, err)
	}
	if id.Attributes, err = ParseAttributes(attrs); err != nil {
		return fmt.Errorf("identity %s: %w", key, err)
	}
	return nil
}

// AttributesJSON is the stored form of an identity's or an account's
// attributes: "{}" for none.
func AttributesJSON(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// ParseAttributes reads what AttributesJSON wrote; none is nil.
func ParseAttributes(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	if m, ok := parseFlatObject(s); ok {
		return m, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	return m, nil
}

// parseFlatObject reads the common form of stored attributes quickly: a
// JSON object of strings without escapes (whitespace between tokens
// allowed, as PostgreSQL's jsonb prints it). Anything else (ok false) is
// left to encoding/json. Reading a million identities' attributes is a
// good part of a dry run's time.
func parseFlatObject(s string) (m map[string]string, ok bool) {
	if strings.IndexByte(s, '\\') >= 0 {
		return nil, false
	}
	i := 0
	space := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	str := func() (string, bool) {
		if i >= len(s) || s[i] != '"' {
			return "", false
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 {
			return "", false
		}
		v := s[i+1 : i+1+end]
		i += end + 2
		for j := 0; j < len(v); j++ {
			if v[j] < 0x20 { // a control character: not valid JSON
				return "", false
			}
		}
		return v, true
	}
	space()
	if i >= len(s) || s[i] != '{' {
		return nil, false
	}
	i++
	m = map[string]string{}
	space()
	if i < len(s) && s[i] == '}' {
		i++
		space()
		return m, i == len(s)
	}
	for {
		space()
		k, ok := str()
		if !ok {
			return nil, false
		}
		space()
		if i >= len(s) || s[i] != ':' {
			return nil, false
		}
		i++
		space()
		v, ok := str()
		if !ok {
			return nil, false
		}
		m[k] = v
		space()
		if i >= len(s) {
			return nil, false
		}
		switch s[i] {
		case ',':
			i++
		case '}':
			i++
			space()
			return m, i == len(s) && utf8.ValidString(s)
		default:
			return nil, false
		}
	}
}

// Fold is how userName, status and the search text are kept for
// case-insensitive matching: folded in Go, because the databases' own
// folding is ASCII only (SQLite) or depends on the locale (PostgreSQL).
func Fold(s string) string { return strings.ToLower(s) }

// SearchText is what IdentityQuery.Search looks in.
func SearchText(id identity.Identity) string {
	return Fold(id.UserName + "\n" + id.Email + "\n" + id.DisplayName)
}

// IdentityPage is the limit and offset of q's page: a zero Limit is 100,
// a negative Offset none.
func IdentityPage(q store.IdentityQuery) (limit, offset int) {
	limit = q.Limit
	if limit <= 0 {
		limit = 100
	}
	return limit, max(q.Offset, 0)
}
