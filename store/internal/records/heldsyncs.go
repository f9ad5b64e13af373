package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

// NewHeldSync checks the delivery HoldSync is given and returns it as the
// stores keep it (a zero State pending, its times kept and CreatedAt now
// when zero, a zero Rows the number of identities), with its identities
// column (JSON, "[]" for none).
func NewHeldSync(h *store.HeldSync, now time.Time) (store.HeldSync, string, error) {
	if h == nil {
		return store.HeldSync{}, "", errors.New("hold sync: no delivery")
	}
	held := *h
	if held.State == "" {
		held.State = store.HeldPending
	}
	if held.State != store.HeldPending {
		return store.HeldSync{}, "", fmt.Errorf("hold sync of %s: state %s, want pending", held.SourceID, held.State)
	}
	held.CreatedAt = KeptTime(held.CreatedAt, now)
	held.ResolvedAt = KeptTime(held.ResolvedAt, time.Time{})
	if held.Rows == 0 {
		held.Rows = len(held.Identities)
	}
	if len(held.Identities) == 0 {
		return held, "[]", nil
	}
	ids, err := json.Marshal(held.Identities)
	if err != nil {
		return store.HeldSync{}, "", fmt.Errorf("hold sync of %s: identities: %w", held.SourceID, err)
	}
	return held, string(ids), nil
}

// HeldSyncEvent is HoldSync's ev with the held delivery's id in its
// Detail (the caller cannot know it).
func HeldSyncEvent(ev audit.Event, id int64) audit.Event {
	return WithDetail(ev, map[string]any{"heldSyncId": id})
}

// DecodeHeldIdentities fills in h's identities from their column.
func DecodeHeldIdentities(h *store.HeldSync, ids string) error {
	if ids == "" || ids == "[]" {
		return nil
	}
	var out []identity.Identity
	if err := json.Unmarshal([]byte(ids), &out); err != nil {
		return fmt.Errorf("identities: %w", err)
	}
	h.Identities = out
	return nil
}

// CheckResolveTo checks the state ResolveHeldSync is asked to move held
// delivery id to.
func CheckResolveTo(id int64, to store.HeldSyncState) error {
	if to != store.HeldApproved && to != store.HeldRejected {
		return fmt.Errorf("resolve held sync %d: to %q, want approved or rejected", id, to)
	}
	return nil
}

// ResolveHeld is the compare-and-set of ResolveHeldSync: it moves h from
// pending to to, resolved by by at now, or returns ErrConflict.
func ResolveHeld(h *store.HeldSync, to store.HeldSyncState, by string, now time.Time) error {
	if h.State != store.HeldPending {
		return fmt.Errorf("held sync %d is %s, not pending: %w", h.ID, h.State, store.ErrConflict)
	}
	h.State, h.ResolvedAt, h.ResolvedBy = to, now, by
	return nil
}
