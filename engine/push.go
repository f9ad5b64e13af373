package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

// PutIdentity stores one identity pushed by a source (inbound SCIM) and
// acts on the change at once: scheduled revocations of a reinstated
// identity are cancelled, and every immediate rule is evaluated for it.
func (e *Engine) PutIdentity(ctx context.Context, sourceID string, id identity.Identity, actor string) (identity.Identity, error) {
	id.SourceID = sourceID
	_, err := e.syncWith(ctx, sourceID, 1, actor, "identity.pushed", fmt.Sprintf("%s pushed %s", sourceID, id.UserName), func(ev audit.Event) (store.SyncResult, error) {
		return e.st.PushIdentity(ctx, sourceID, id, ev)
	})
	if err != nil {
		return id, err
	}
	return e.st.Identity(ctx, id.ID())
}

// GetIdentity returns one identity of a source.
func (e *Engine) GetIdentity(ctx context.Context, sourceID, externalID string) (identity.Identity, error) {
	return e.st.Identity(ctx, identity.Key(sourceID, externalID))
}

// ListIdentities pages a source's identities and counts those matching.
func (e *Engine) ListIdentities(ctx context.Context, sourceID string, q store.IdentityQuery) ([]identity.Identity, int, error) {
	q.SourceID = sourceID
	n, err := e.st.CountIdentities(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	page, err := e.st.ListIdentities(ctx, q)
	return page, n, err
}

// runImmediate evaluates every immediate rule for changed identities now.
// Each rule's run is separate, so one failing rule does not stop another.
func (e *Engine) runImmediate(ctx context.Context, keys []string, actor string) error {
	cfg, _, err := e.st.Config(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range cfg.Rules {
		if !r.Immediate {
			continue
		}
		if _, err := e.Run(ctx, r.ID, RunOptions{Trigger: "immediate", Actor: actor, Only: keys}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PushSources returns the configured sources of type scim with their
// tokens expanded, for the inbound SCIM endpoint.
func (e *Engine) PushSources(ctx context.Context) ([]config.Source, error) {
	cfg, _, err := e.st.Config(ctx)
	if err != nil {
		return nil, err
	}
	var out []config.Source
	for _, s := range cfg.Sources {
		if s.Type != "scim" {
			continue
		}
		tok, err := config.Expand(s.Token)
		if err != nil {
			e.log.Error("scim source token", "source", s.ID, "error", err)
			continue
		}
		s.Token = tok
		out = append(out, s)
	}
	return out, nil
}
