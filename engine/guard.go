package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

// Feed guard defaults.
const (
	DefaultGuardPercent       = 10.0
	DefaultGuardMinIdentities = 20
)

// guard holds a whole-source delivery that would empty the source (a file
// of no rows), or change the status or end date of more than the guard's
// share of its identities (those it marks missing included); it returns
// the held delivery, or nil to go ahead.
func (e *Engine) guard(ctx context.Context, src config.Source, ids []identity.Identity, rows int, actor string) (*store.HeldSync, error) {
	g := config.Guard{}
	if src.Guard != nil {
		g = *src.Guard
	}
	pct, minN := DefaultGuardPercent, DefaultGuardMinIdentities
	if g.MaxChangePercent != nil {
		pct = *g.MaxChangePercent
	}
	if g.MinIdentities != nil {
		minN = *g.MinIdentities
	}
	current, err := e.sourceState(ctx, src.ID)
	if err != nil {
		return nil, err
	}
	reason := ""
	switch {
	case rows == 0 && len(current) > 0 && !g.AllowEmpty:
		reason = fmt.Sprintf("the delivery has no rows but source %s has %d identities", src.ID, len(current))
	case len(current) >= minN && pct < 100:
		changed := 0
		for _, id := range ids {
			if was, ok := current[id.ID()]; ok && was != lifecycle(id) {
				changed++
			}
		}
		if share := 100 * float64(changed) / float64(len(current)); share > pct {
			reason = fmt.Sprintf("the delivery changes the status or end date of %d of %d identities (%.1f%%), more than the guard's %v%%", changed, len(current), share, pct)
		}
	}
	if reason == "" {
		return nil, nil
	}
	h := &store.HeldSync{SourceID: src.ID, State: store.HeldPending, Reason: reason, Rows: rows, Identities: ids, CreatedAt: e.Now()}
	ev := e.event(actor, "source.held", fmt.Sprintf("delivery of source %s held for approval: %s", src.ID, reason))
	ev.Detail = map[string]any{"source": src.ID, "rows": rows, "reason": reason}
	if err := e.st.HoldSync(ctx, h, ev); err != nil {
		return nil, fmt.Errorf("hold delivery of %s: %w", src.ID, err)
	}
	e.log.Warn("source delivery held", "source", src.ID, "held", h.ID, "reason", reason)
	return h, nil
}

// lifecycle is what the guard compares: status and end date.
func lifecycle(id identity.Identity) string {
	return strings.ToLower(strings.TrimSpace(id.Status)) + "|" + id.EndDate.String()
}

// sourceState maps each identity key of a source to its lifecycle.
func (e *Engine) sourceState(ctx context.Context, sourceID string) (map[string]string, error) {
	out := map[string]string{}
	after := ""
	for {
		page, err := e.st.ListIdentities(ctx, store.IdentityQuery{SourceID: sourceID, After: after, Limit: 5000})
		if err != nil {
			return nil, err
		}
		for _, id := range page {
			out[id.ID()] = lifecycle(id)
		}
		if len(page) < 5000 {
			return out, nil
		}
		after = page[len(page)-1].ID()
	}
}

// ApproveSync applies a held delivery as it was received.
func (e *Engine) ApproveSync(ctx context.Context, id int64, actor string) (SyncReport, error) {
	h, err := e.heldSync(ctx, id)
	if err != nil {
		return SyncReport{}, err
	}
	ev := e.event(actor, "source.approved", fmt.Sprintf("held delivery %d of source %s approved by %s", id, h.SourceID, actor))
	ev.Detail = map[string]any{"source": h.SourceID, "held": id, "rows": h.Rows, "reason": h.Reason}
	if _, err := e.st.ResolveHeldSync(ctx, id, store.HeldApproved, actor, ev); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return SyncReport{}, invalidf("held delivery %d is no longer pending", id)
		}
		return SyncReport{}, err
	}
	res, err := e.SyncIdentities(ctx, h.SourceID, h.Identities, actor, "source.synced", fmt.Sprintf("%s from held delivery %d", h.SourceID, id))
	return SyncReport{SyncResult: res}, err
}

// RejectSync discards a held delivery.
func (e *Engine) RejectSync(ctx context.Context, id int64, reason, actor string) (store.HeldSync, error) {
	h, err := e.heldSync(ctx, id)
	if err != nil {
		return h, err
	}
	ev := e.event(actor, "source.rejected", fmt.Sprintf("held delivery %d of source %s rejected by %s%s", id, h.SourceID, actor, prefixed(": ", reason)))
	ev.Detail = map[string]any{"source": h.SourceID, "held": id}
	out, err := e.st.ResolveHeldSync(ctx, id, store.HeldRejected, actor, ev)
	if errors.Is(err, store.ErrConflict) {
		return h, invalidf("held delivery %d is no longer pending", id)
	}
	return out, err
}

func (e *Engine) heldSync(ctx context.Context, id int64) (store.HeldSync, error) {
	h, err := e.st.HeldSync(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return h, invalidf("unknown held delivery %d", id)
	}
	if err != nil {
		return h, err
	}
	if h.State != store.HeldPending {
		return h, invalidf("held delivery %d is %s, not pending", id, h.State)
	}
	return h, nil
}
