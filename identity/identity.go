// Package identity defines the people deprov deprovisions, as a source system
// (HR, an IdP) describes them, and the Source interface that delivers them.
package identity

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Identity is one person as the source system says.
type Identity struct {
	// SourceID is the configured source this identity comes from.
	SourceID string `json:"sourceId"`
	// ExternalID is the source's own stable key; unique within a source.
	ExternalID string `json:"externalId"`
	// UserName is the login name; usually what accounts correlate on.
	UserName string `json:"userName"`
	// Email is the primary e-mail address.
	Email string `json:"email,omitempty"`
	// DisplayName is the human-readable name.
	DisplayName string `json:"displayName,omitempty"`
	// Status is free text from the source, compared case-insensitively.
	Status string `json:"status,omitempty"`
	// EndDate is the last day (or instant) of employment; zero when unknown.
	EndDate EndDate `json:"endDate,omitzero"`
	// Department is the organisational unit.
	Department string `json:"department,omitempty"`
	// Manager is the manager's identifier as the source gives it.
	Manager string `json:"manager,omitempty"`
	// Attributes holds every other field of the source record.
	Attributes map[string]string `json:"attributes,omitempty"`
	// UpdatedAt is when deprov last saw this record change.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// ID is the identity's key across deprov: "<source>/<externalId>".
func (i Identity) ID() string { return Key(i.SourceID, i.ExternalID) }

// Key builds an identity key from its parts.
func Key(sourceID, externalID string) string { return sourceID + "/" + externalID }

// SplitKey splits an identity key into source and external id.
func SplitKey(key string) (sourceID, externalID string, ok bool) {
	return strings.Cut(key, "/")
}

// Field returns the value of a correlatable field by name: userName, email,
// externalId, displayName, department, manager, status, or attributes.NAME
// (a bare name that is none of those is looked up in Attributes too).
func (i Identity) Field(name string) string {
	switch name {
	case "userName":
		return i.UserName
	case "email":
		return i.Email
	case "externalId":
		return i.ExternalID
	case "displayName":
		return i.DisplayName
	case "department":
		return i.Department
	case "manager":
		return i.Manager
	case "status":
		return i.Status
	}
	return i.Attributes[strings.TrimPrefix(name, "attributes.")]
}

// EndDate is an end of employment as the source gives it: either a calendar
// date (the usual HR field) or an exact instant.
type EndDate struct {
	// Time is the instant; for a date it is midnight UTC of that date.
	Time time.Time
	// DateOnly says the source gave a calendar date without a time of day.
	DateOnly bool
}

// ParseEndDate reads an RFC 3339 date ("2026-11-30") or date-time
// ("2026-11-30T17:00:00+01:00"). The empty string is the zero EndDate.
func ParseEndDate(s string) (EndDate, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return EndDate{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return EndDate{Time: t, DateOnly: true}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return EndDate{}, fmt.Errorf("%q is not an RFC 3339 date (2006-01-02) or date-time (2006-01-02T15:04:05Z07:00)", s)
	}
	return EndDate{Time: t}, nil
}

// IsZero reports whether no end date is known.
func (d EndDate) IsZero() bool { return d.Time.IsZero() }

// In returns the instant the end date stands for in loc: a calendar date
// is the start (00:00) of that day in loc; an instant is itself.
func (d EndDate) In(loc *time.Location) time.Time {
	if !d.DateOnly || d.Time.IsZero() {
		return d.Time
	}
	y, m, day := d.Time.Date()
	return time.Date(y, m, day, 0, 0, 0, 0, loc)
}

// String formats the end date as it was given.
func (d EndDate) String() string {
	switch {
	case d.IsZero():
		return ""
	case d.DateOnly:
		return d.Time.Format(time.DateOnly)
	default:
		return d.Time.Format(time.RFC3339)
	}
}

// MarshalText writes the end date as String does.
func (d EndDate) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what ParseEndDate reads.
func (d *EndDate) UnmarshalText(b []byte) error {
	v, err := ParseEndDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// CheckText reports text that no store keeps as given: a NUL byte, or bytes
// that are not UTF-8. Sources refuse such values with this error rather
// than store them altered (or, on PostgreSQL, fail a whole sync on them).
func CheckText(s string) error {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("contains a NUL byte at byte %d", i+1)
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("is not valid UTF-8 at byte %d", i+1)
		}
		i += size
	}
	return nil
}

// CheckText checks every text field and attribute of i with CheckText and
// names the first field at fault (attributes in name order).
func (i Identity) CheckText() error {
	for _, f := range []struct{ name, v string }{
		{"externalId", i.ExternalID}, {"userName", i.UserName}, {"email", i.Email},
		{"displayName", i.DisplayName}, {"status", i.Status}, {"department", i.Department},
		{"manager", i.Manager},
	} {
		if err := CheckText(f.v); err != nil {
			return fmt.Errorf("%s %w", f.name, err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(i.Attributes)) {
		if err := CheckText(k); err != nil {
			return fmt.Errorf("attribute name %q %w", k, err)
		}
		if err := CheckText(i.Attributes[k]); err != nil {
			return fmt.Errorf("attribute %q %w", k, err)
		}
	}
	return nil
}
