package audit

import "fmt"

// BrokenError names the first event where the chain does not hold.
type BrokenError struct {
	// Seq is the event's position.
	Seq int64
	// Reason says what does not match.
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit chain broken at event %d: %s", e.Seq, e.Reason)
}

// Verifier checks a chain event by event, in order, without holding it.
type Verifier struct {
	prev *Event
	// Count is how many events were checked.
	Count int64
}

// Add checks the next event: its position follows the previous one, its
// PrevHash is the previous event's Hash, and its Hash is the hash of its
// content. It returns a *BrokenError for the first event that fails.
func (v *Verifier) Add(e Event) error {
	wantSeq, wantPrev := int64(1), ""
	if v.prev != nil {
		wantSeq, wantPrev = v.prev.Seq+1, v.prev.Hash
	}
	switch {
	case e.Seq != wantSeq:
		return &BrokenError{Seq: e.Seq, Reason: fmt.Sprintf("expected event %d next: an event is missing or out of order", wantSeq)}
	case e.PrevHash != wantPrev:
		return &BrokenError{Seq: e.Seq, Reason: "its previous-hash does not match the event before it"}
	case ComputeHash(e) != e.Hash:
		return &BrokenError{Seq: e.Seq, Reason: "its content does not match its hash: the event was altered"}
	}
	ev := e
	v.prev = &ev
	v.Count++
	return nil
}

// Head is the last verified event, nil before the first.
func (v *Verifier) Head() *Event { return v.prev }
