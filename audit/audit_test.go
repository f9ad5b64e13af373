package audit

import (
	"errors"
	"testing"
	"time"
)

func chain(n int) []Event {
	evs := make([]Event, n)
	var prev *Event
	for i := range evs {
		evs[i] = Event{Time: time.Date(2026, 11, 26, 9, 0, i, 0, time.UTC), Actor: "test", Action: "x.y", Message: "m",
			Detail: map[string]any{"n": i, "list": []any{"a", 1}}}
		Seal(&evs[i], prev)
		prev = &evs[i]
	}
	return evs
}

func TestVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tamper  func([]Event) []Event
		brokeAt int64
	}{
		{"untouched", func(e []Event) []Event { return e }, 0},
		{"message altered", func(e []Event) []Event { e[2].Message = "other"; return e }, 3},
		{"detail altered", func(e []Event) []Event { e[1].Detail = map[string]any{"n": 99}; return e }, 2},
		{"event removed", func(e []Event) []Event { return append(e[:2], e[3:]...) }, 4},
		{"events swapped", func(e []Event) []Event { e[1], e[2] = e[2], e[1]; return e }, 3},
		{"re-hashed but not re-linked", func(e []Event) []Event { e[2].Actor = "mallory"; e[2].Hash = ComputeHash(e[2]); return e }, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v Verifier
			var err error
			for _, e := range tc.tamper(chain(5)) {
				if err = v.Add(e); err != nil {
					break
				}
			}
			var be *BrokenError
			switch {
			case tc.brokeAt == 0 && err != nil:
				t.Fatalf("untouched chain: %v", err)
			case tc.brokeAt != 0 && (!errors.As(err, &be) || be.Seq != tc.brokeAt):
				t.Fatalf("err = %v, want broken at %d", err, tc.brokeAt)
			}
		})
	}
}

func TestHashSurvivesJSONRoundTrip(t *testing.T) {
	t.Parallel()
	e := chain(1)[0]
	// A store gives Detail numbers back as float64.
	e.Detail = map[string]any{"n": float64(0), "list": []any{"a", float64(1)}}
	if ComputeHash(e) != e.Hash {
		t.Fatal("hash changed after a JSON round trip of Detail")
	}
}
