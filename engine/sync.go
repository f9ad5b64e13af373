package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/identity/csvsource"
	"github.com/deprov/deprov/store"
)

// SyncReport is what a sync did: its counts, or the held delivery when the
// feed guard stopped it (then nothing was applied).
type SyncReport struct {
	store.SyncResult
	// Held is the delivery the feed guard held for approval.
	Held *store.HeldSync `json:"held,omitempty"`
}

// Sync reads a source now: a csv source re-reads its file. A file with any
// malformed row changes nothing, and a delivery the feed guard finds
// suspicious is held for approval.
func (e *Engine) Sync(ctx context.Context, sourceID, actor string) (SyncReport, error) {
	src, err := e.source(ctx, sourceID)
	if err != nil {
		return SyncReport{}, err
	}
	if src.Type != "csv" {
		return SyncReport{}, invalidf("source %s is of type %s: it is pushed to deprov, not read", src.ID, src.Type)
	}
	f, err := os.Open(src.Path)
	if err != nil {
		return SyncReport{}, fmt.Errorf("source %s: %w", src.ID, err)
	}
	defer f.Close()
	return e.importCSV(ctx, src, f, src.Path, actor, "source.synced")
}

// missing returns, for a source with a missingStatus, its identities that
// the delivery ids does not list, with that status (those that have it
// already are left out): the source says its file is the whole of it.
func (e *Engine) missing(ctx context.Context, src config.Source, ids []identity.Identity) ([]identity.Identity, error) {
	if src.MissingStatus == "" {
		return nil, nil
	}
	listed := make(map[string]bool, len(ids))
	for _, id := range ids {
		listed[id.ID()] = true
	}
	var out []identity.Identity
	for after := ""; ; {
		page, err := e.st.ListIdentities(ctx, store.IdentityQuery{SourceID: src.ID, After: after, Limit: 5000})
		if err != nil {
			return nil, err
		}
		for _, id := range page {
			if !listed[id.ID()] && !strings.EqualFold(id.Status, src.MissingStatus) {
				id.Status = src.MissingStatus
				out = append(out, id)
			}
		}
		if len(page) < 5000 {
			return out, nil
		}
		after = page[len(page)-1].ID()
	}
}

// Import loads identities into a source from a CSV file once, with the
// source's column mapping and feed guard.
func (e *Engine) Import(ctx context.Context, sourceID string, r io.Reader, name, actor string) (SyncReport, error) {
	src, err := e.source(ctx, sourceID)
	if err != nil {
		return SyncReport{}, err
	}
	return e.importCSV(ctx, src, r, name, actor, "source.imported")
}

func (e *Engine) source(ctx context.Context, id string) (config.Source, error) {
	cfg, _, err := e.st.Config(ctx)
	if err != nil {
		return config.Source{}, err
	}
	src, ok := cfg.Source(id)
	if !ok {
		return config.Source{}, invalidf("unknown source %q", id)
	}
	return src, nil
}

func (e *Engine) importCSV(ctx context.Context, src config.Source, r io.Reader, name, actor, action string) (SyncReport, error) {
	ids, err := csvsource.Read(r, src.ID, csvsource.Mapping(src.Columns))
	if err != nil {
		return SyncReport{}, fmt.Errorf("%w: %s: %s", ErrInvalid, name, strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	rows := len(ids)
	if action == "source.synced" {
		// A sync delivers the whole source; an import only adds to it.
		gone, err := e.missing(ctx, src, ids)
		if err != nil {
			return SyncReport{}, err
		}
		ids = append(ids, gone...)
	}
	held, err := e.guard(ctx, src, ids, rows, actor)
	if err != nil || held != nil {
		return SyncReport{Held: held}, err
	}
	res, err := e.SyncIdentities(ctx, src.ID, ids, actor, action, fmt.Sprintf("%s from %s", src.ID, name))
	return SyncReport{SyncResult: res}, err
}

// SyncIdentities stores identities delivered by a source, links accounts
// that were waiting for them, cancels the scheduled revocations of every
// changed identity that no longer matches its rule, and runs the immediate
// rules for the changed identities. The store marks the changed identities
// pending in the sync's own transaction; the marks are cleared once all of
// that is done. Should it fail half-way (the database, a crash), a serving
// node finds the marks and does it again (settlePending): a pushed
// termination is never lost between storing it and acting on it.
func (e *Engine) SyncIdentities(ctx context.Context, sourceID string, ids []identity.Identity, actor, action, what string) (store.SyncResult, error) {
	return e.syncWith(ctx, sourceID, len(ids), actor, action, what, func(ev audit.Event) (store.SyncResult, error) {
		return e.st.SyncIdentities(ctx, sourceID, ids, ev)
	})
}

// syncWith stores identities with put (given the event to record) and
// carries out what the change sets off, as SyncIdentities describes.
func (e *Engine) syncWith(ctx context.Context, sourceID string, rows int, actor, action, what string, put func(audit.Event) (store.SyncResult, error)) (store.SyncResult, error) {
	ev := e.event(actor, action, "identities synced: "+what)
	ev.Detail = map[string]any{"source": sourceID, "rows": rows}
	res, err := put(ev)
	if err != nil {
		return res, fmt.Errorf("sync %s: %w", sourceID, err)
	}
	if len(res.Changed) == 0 {
		return res, nil
	}
	if err := e.afterSync(ctx, res.Changed, res.Created > 0, actor); err != nil {
		return res, err
	}
	if err := e.st.ClearPending(ctx, sourceID, nil, res.MarkedAt); err != nil {
		// The work is done; a serving node will find it done again.
		e.log.Warn("clear pending identities", "source", sourceID, "error", err)
	}
	return res, nil
}

// afterSync is what a change of identities sets off: accounts waiting for
// them are linked, revocations of those no longer matching are cancelled,
// and immediate rules run. Each step is idempotent.
func (e *Engine) afterSync(ctx context.Context, keys []string, created bool, actor string) error {
	if err := e.correlateWaiting(ctx, created); err != nil {
		return err
	}
	if err := e.Reconsider(ctx, keys, actor); err != nil {
		return err
	}
	return e.runImmediate(ctx, keys, actor)
}

// settleAfter is how long a pending mark is left to the sync that set it
// before a serving node takes it up.
const settleAfter = 30 * time.Second

// settlePending does again what syncs left undone: it takes identities
// marked pending for longer than settleAfter (their sync failed or its
// process died after storing them), carries out afterSync for them and
// clears their marks.
func (e *Engine) settlePending(ctx context.Context) error {
	for {
		pending, err := e.st.PendingIdentities(ctx, e.Now().Add(-settleAfter), 500)
		if err != nil || len(pending) == 0 {
			return err
		}
		type mark struct {
			source string
			at     time.Time
		}
		byMark := map[mark][]string{}
		for _, p := range pending {
			m := mark{p.SourceID, p.Since}
			byMark[m] = append(byMark[m], p.Key)
		}
		keys := make([]string, 0, len(pending))
		for _, p := range pending {
			keys = append(keys, p.Key)
		}
		e.log.Warn("identities changed by a sync that did not finish: evaluating them now", "identities", len(keys))
		if err := e.afterSync(ctx, keys, true, "system"); err != nil {
			return err
		}
		for m, ks := range byMark {
			if err := e.st.ClearPending(ctx, m.source, ks, m.at); err != nil {
				return err
			}
		}
		if len(pending) < 500 {
			return nil
		}
	}
}

// correlateWaiting links uncorrelated accounts of every application to
// identities that have appeared since aggregation, and gives new
// identities their assumed accounts in applications that cannot list.
func (e *Engine) correlateWaiting(ctx context.Context, created bool) error {
	cfg, _, err := e.st.Config(ctx)
	if err != nil {
		return err
	}
	for _, app := range cfg.Applications {
		if f, ok := connector.Lookup(app.Connector.Type); ok && !f.Lists {
			if created {
				if _, err := e.assumeAccounts(ctx, app, "system"); err != nil {
					return err
				}
			}
			continue
		}
		accts, err := e.st.ListAccounts(ctx, store.AccountQuery{ApplicationID: app.ID, Uncorrelated: true})
		if err != nil || len(accts) == 0 {
			if err != nil {
				return err
			}
			continue
		}
		idx, err := e.identityIndex(ctx, correlationOf(app).Identity)
		if err != nil {
			return err
		}
		for _, a := range accts {
			if key := idx[strings.ToLower(a.Field(correlationOf(app).Account))]; key != "" {
				if err := e.st.CorrelateAccount(ctx, app.ID, a.NativeID, key); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func correlationOf(app config.Application) config.Correlation {
	c := app.Correlation
	if c.Account == "" {
		c.Account = "userName"
	}
	if c.Identity == "" {
		c.Identity = "userName"
	}
	return c
}

// identityIndex maps the lower-cased value of an identity field to the
// identity's key, streaming identities in pages.
func (e *Engine) identityIndex(ctx context.Context, field string) (map[string]string, error) {
	idx := map[string]string{}
	after := ""
	for {
		page, err := e.st.ListIdentities(ctx, store.IdentityQuery{After: after, Limit: 2000})
		if err != nil {
			return nil, err
		}
		for _, id := range page {
			if v := strings.ToLower(id.Field(field)); v != "" {
				idx[v] = id.ID()
			}
		}
		if len(page) < 2000 {
			return idx, nil
		}
		after = page[len(page)-1].ID()
	}
}

// Aggregate lists an application's accounts through its connector,
// correlates them to identities and stores them.
func (e *Engine) Aggregate(ctx context.Context, appID, actor string) (store.AggregateResult, error) {
	conn, app, err := e.connector(ctx, appID)
	if err != nil {
		if isNotFound(err) {
			return store.AggregateResult{}, invalidf("unknown application %q", appID)
		}
		return store.AggregateResult{}, err
	}
	lister, ok := conn.(connector.Lister)
	if !ok {
		return e.assumeAccounts(ctx, app, actor)
	}
	corr := correlationOf(app)
	idx, err := e.identityIndex(ctx, corr.Identity)
	if err != nil {
		return store.AggregateResult{}, err
	}
	var accts []account.Account
	now := e.Now()
	start := time.Now()
	defer func() { e.observe(appID, "aggregate", start, err) }()
	err = lister.ListAccounts(connector.WithWaiter(ctx, e.limiter(appID)), func(a account.Account) error {
		a.ApplicationID, a.SeenAt = appID, now
		a.IdentityID = idx[strings.ToLower(a.Field(corr.Account))]
		accts = append(accts, a)
		return nil
	})
	if err != nil {
		return store.AggregateResult{}, fmt.Errorf("aggregate %s: %w", appID, err)
	}
	ev := e.event(actor, "application.aggregated", "accounts aggregated from "+appID)
	ev.ApplicationID = appID
	res, err := e.st.ReplaceAccounts(ctx, appID, accts, ev)
	if err != nil {
		return res, fmt.Errorf("aggregate %s: %w", appID, err)
	}
	return res, nil
}

// assumeAccounts stands in for aggregation in an application that cannot
// list its accounts (webhook, manual): every identity is taken to hold one
// account there, named by the identity's correlation field, so that rules
// plan for it. What deprov already did to such an account (disabled,
// deleted) is kept. A target that has no such account answers "already
// done" (webhook 404) or a person says so (manual).
func (e *Engine) assumeAccounts(ctx context.Context, app config.Application, actor string) (store.AggregateResult, error) {
	existing, err := e.st.ListAccounts(ctx, store.AccountQuery{ApplicationID: app.ID, IncludeDeleted: true})
	if err != nil {
		return store.AggregateResult{}, err
	}
	known := make(map[string]account.Account, len(existing))
	for _, a := range existing {
		known[a.NativeID] = a
	}
	field := correlationOf(app).Identity
	now := e.Now()
	var accts []account.Account
	after := ""
	for {
		page, err := e.st.ListIdentities(ctx, store.IdentityQuery{After: after, Limit: 2000})
		if err != nil {
			return store.AggregateResult{}, err
		}
		for _, id := range page {
			name := id.Field(field)
			if name == "" {
				continue
			}
			a, ok := known[name]
			if !ok {
				a = account.Account{ApplicationID: app.ID, NativeID: name, UserName: name, Email: id.Email, State: account.Active}
			}
			a.IdentityID, a.SeenAt = id.ID(), now
			accts = append(accts, a)
		}
		if len(page) < 2000 {
			break
		}
		after = page[len(page)-1].ID()
	}
	ev := e.event(actor, "application.aggregated", fmt.Sprintf("accounts of %s assumed from identities: its %s connector cannot list them", app.ID, app.Connector.Type))
	ev.ApplicationID = app.ID
	res, err := e.st.ReplaceAccounts(ctx, app.ID, accts, ev)
	if err != nil {
		return res, fmt.Errorf("aggregate %s: %w", app.ID, err)
	}
	return res, nil
}
