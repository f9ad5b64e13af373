package records

import (
	"testing"
	"time"

	"github.com/deprov/deprov/audit"
)

func TestSealEvents(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 10, 0, 0, 1_500, time.FixedZone("X", 3600))
	given := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	evs := []audit.Event{
		{Action: "a", Detail: map[string]any{"n": 1}},
		{Action: "b", Time: given},
	}
	details, err := EventDetails(evs)
	if err != nil {
		t.Fatal(err)
	}
	if details[0] != `{"n":1}` || details[1] != nil {
		t.Fatalf("details %v", details)
	}
	first := SealEvents(evs, nil, func() time.Time { return now })
	if first[0].Seq != 1 || !first[0].Time.Equal(now.Truncate(time.Microsecond)) || !first[1].Time.Equal(given) {
		t.Fatalf("sealed %+v", first)
	}
	if evs[0].Hash != "" {
		t.Fatal("SealEvents changed its input")
	}
	more := SealEvents([]audit.Event{{Action: "c"}}, &first[1], func() time.Time { return now })
	var v audit.Verifier
	for _, e := range append(first, more...) {
		if err := v.Add(e); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := EventDetails([]audit.Event{{Action: "x", Detail: map[string]any{"f": func() {}}}}); err == nil {
		t.Fatal("a Detail that does not marshal passed")
	}
	var back audit.Event
	if err := DecodeDetail(&back, details[0].(string)); err != nil || back.Detail["n"] != 1.0 {
		t.Fatalf("detail read back %v, %v", back.Detail, err)
	}
}

func TestWithDetail(t *testing.T) {
	t.Parallel()
	ev := audit.Event{Detail: map[string]any{"a": 1}}
	got := WithDetail(ev, map[string]any{"b": 2})
	if got.Detail["a"] != 1 || got.Detail["b"] != 2 {
		t.Fatalf("detail %v", got.Detail)
	}
	if _, ok := ev.Detail["b"]; ok {
		t.Fatal("WithDetail changed the event's own Detail")
	}
}
