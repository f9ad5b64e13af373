package records

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/deprov/deprov/audit"
)

// WithDetail returns ev with kv added to a copy of its Detail.
func WithDetail(ev audit.Event, kv map[string]any) audit.Event {
	d := make(map[string]any, len(ev.Detail)+len(kv))
	maps.Copy(d, ev.Detail)
	maps.Copy(d, kv)
	ev.Detail = d
	return ev
}

// EventDetails is the stored form of each event's Detail: JSON, NULL when
// empty. It is marshalled before the events are sealed: audit.Seal panics
// on a Detail that does not marshal, and the stored JSON is what the hash
// covers.
func EventDetails(evs []audit.Event) ([]any, error) {
	details := make([]any, len(evs))
	for i, ev := range evs {
		if len(ev.Detail) == 0 {
			continue
		}
		b, err := json.Marshal(ev.Detail)
		if err != nil {
			return nil, fmt.Errorf("audit event %s: detail: %w", ev.Action, err)
		}
		details[i] = string(b)
	}
	return details, nil
}

// SealEvents chains copies of evs, in order, after prev (the chain's last
// event, nil when it is empty); an event with a zero Time gets now's.
func SealEvents(evs []audit.Event, prev *audit.Event, now func() time.Time) []audit.Event {
	out := make([]audit.Event, len(evs))
	for i, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = now()
		}
		audit.Seal(&ev, prev)
		out[i] = ev
		prev = &out[i]
	}
	return out
}

// DecodeDetail fills in e's Detail from its column.
func DecodeDetail(e *audit.Event, detail string) error {
	if detail == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
		return fmt.Errorf("event %d: detail: %w", e.Seq, err)
	}
	return nil
}
