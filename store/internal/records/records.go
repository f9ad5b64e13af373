// Package records is what store/sqlite and store/postgres do to deprov's
// records on their way into and out of a database, apart from SQL: the
// stored forms (content hashes, JSON columns, kept times), the checks of
// arguments and states with their errors, the audit events a change
// completes and seals, the list of embedded migrations, and the loop that
// reads a result set. Both stores pass one conformance suite
// (store/storetest); what they share lives here so that it cannot drift
// apart. Each store keeps only what depends on its database: SQL text and
// placeholders, how times are bound and scanned, transactions, locking and
// the translation of driver errors.
package records

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// KeptTime is t as the stores keep it, in UTC at microseconds, or def when
// t is zero.
func KeptTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t.UTC().Truncate(time.Microsecond)
}

// CeilMicro rounds t up to the precision times are kept at, so that
// comparing kept times with it is comparing them with t.
func CeilMicro(t time.Time) time.Time {
	if c := t.Truncate(time.Microsecond); !c.Equal(t) {
		return c.Add(time.Microsecond)
	}
	return t
}

// NullString is s as an argument: NULL for "".
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Distinct returns a sorted copy of vs without repeats.
func Distinct[T cmp.Ordered](vs []T) []T {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	return slices.Compact(vs)
}

// StateStrings returns states as plain strings, for binding.
func StateStrings[T ~string](states []T) []string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = string(st)
	}
	return out
}

// JoinStates names the states a compare-and-set wanted, for its error.
func JoinStates[T ~string](states []T) string {
	if len(states) == 0 {
		return "(none)"
	}
	return strings.Join(StateStrings(states), " or ")
}
