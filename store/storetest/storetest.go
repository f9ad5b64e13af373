// Package storetest is the conformance suite of store.Store: every
// implementation passes it, so that the engine can rely on the contract and
// not on one database's behaviour.
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newMigratedStore(t) })
//	}
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

// Run runs the suite. newStore returns a new, empty, migrated store for
// one subtest and closes it when t ends (t.Cleanup); subtests run in
// parallel, each with its own store.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Config", configTests},
		{"Identities", identityTests},
		{"Accounts", accountTests},
		{"Runs", runTests},
		{"Revocations", revocationTests},
		{"Audit", auditTests},
		{"HeldSyncs", heldSyncTests},
		{"Tokens", tokenTests},
		{"Settings", settingTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, newStore(t))
				})
			}
		})
	}
}

// test is one subtest of the suite.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// t0 is the suite's fixed clock reading. It has nanoseconds, which stores
// keep at microseconds; every time the suite passes in derives from it.
var t0 = time.Date(2026, 3, 2, 9, 30, 15, 123456789, time.UTC)

// at is t0 plus d, as stores keep it (UTC, microseconds).
func at(d time.Duration) time.Time { return t0.Add(d).Truncate(time.Microsecond) }

// event is an audit event at a fixed time.
func event(action string) audit.Event {
	return audit.Event{Time: t0, Actor: "storetest", Action: action, Message: action}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

// kept checks that a time the store set is as stores keep times.
func kept(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if tm.IsZero() {
		t.Fatalf("%s is zero", what)
	}
	if tm.Location() != time.UTC || !tm.Equal(tm.Truncate(time.Microsecond)) {
		t.Fatalf("%s = %s, want UTC at microsecond precision", what, tm.Format(time.RFC3339Nano))
	}
}

// auditLen is the number of events in the chain.
func auditLen(t *testing.T, s store.Store) int {
	t.Helper()
	evs, err := s.ListAudit(t.Context(), store.AuditQuery{})
	must(t, err)
	return len(evs)
}

// lastEvent is the newest event in the chain.
func lastEvent(t *testing.T, s store.Store) audit.Event {
	t.Helper()
	evs, err := s.ListAudit(t.Context(), store.AuditQuery{})
	must(t, err)
	if len(evs) == 0 {
		t.Fatal("audit chain is empty")
	}
	return evs[len(evs)-1]
}

// unmarshalable is an audit event no store can keep: its Detail has no
// JSON form. A mutating method given it must fail and change nothing.
func unmarshalable(action string) audit.Event {
	ev := event(action)
	ev.Detail = map[string]any{"bad": func() {}}
	return ev
}

// detailInt reads a count from a Detail read back from a store (a JSON number).
func detailInt(t *testing.T, ev audit.Event, key string) int {
	t.Helper()
	switch v := ev.Detail[key].(type) {
	case float64:
		return int(v)
	case int:
		return v
	case int64:
		return int(v)
	}
	t.Fatalf("event %s: detail %q = %#v, want a number", ev.Action, key, ev.Detail[key])
	return 0
}

func ptr[T any](v T) *T { return &v }

func keyN(src string, i int) string { return fmt.Sprintf("%s/u%04d", src, i) }
