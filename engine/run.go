package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/rule"
	"github.com/deprov/deprov/store"
)

// RunOptions says how a rule is run.
type RunOptions struct {
	// DryRun returns the plan and changes nothing.
	DryRun bool
	// Trigger is what started the run: manual, schedule or immediate.
	Trigger string
	// Actor is who started it.
	Actor string
	// FireAt is the schedule's fire time a scheduled run is for. A rule runs
	// once per fire time: when it already has a run for FireAt (its job was
	// taken up again after a crash), Run stores no second one; it cancels
	// what the rule no longer matches, queues what is due and returns the
	// stored run.
	FireAt time.Time
	// Only restricts the run to these identity keys (immediate evaluation).
	Only []string
	// Progress, when set, is told after each batch how many identities
	// were evaluated so far and how many there are.
	Progress func(done, total int)
}

// batchSize is how many identities evaluation reads at a time, so that
// memory does not grow with the number of identities.
const batchSize = 1000

// Run evaluates a rule now. A dry run returns the plan and changes nothing;
// a real run stores the run, cancels revocations of identities the rule no
// longer matches, schedules the planned revocations (or quarantines the run
// when it exceeds the rule's safety limits) and queues their jobs.
func (e *Engine) Run(ctx context.Context, ruleID string, o RunOptions) (store.Run, error) {
	cfg, _, err := e.st.Config(ctx)
	if err != nil {
		return store.Run{}, err
	}
	r, ok := cfg.Rule(ruleID)
	if !ok {
		return store.Run{}, invalidf("unknown rule %q", ruleID)
	}
	c, err := e.compileRule(ctx, cfg, r)
	if err != nil {
		return store.Run{}, err
	}
	now := e.Now()
	run := store.Run{RuleID: ruleID, Trigger: cmpOr(o.Trigger, "manual"), Actor: o.Actor, StartedAt: now, FireAt: o.FireAt}
	p, err := e.plan(ctx, c, o.Only, now, o.Progress, r.AllocationSize())
	if err != nil {
		return run, fmt.Errorf("run %s: %w", ruleID, err)
	}
	run.Counts, run.Items, run.FinishedAt = p.counts, p.items, e.Now()
	run.State = store.RunCompleted
	if o.DryRun {
		return run, nil
	}
	if len(o.Only) > 0 && run.Counts.Matched == 0 && len(p.unmatched) == 0 && len(p.cancel) == 0 {
		// An immediate evaluation that changes nothing is not worth a run record.
		return run, nil
	}
	safety := cfg.SafetyFor(r)
	if len(o.Only) > 0 {
		// Pushes arrive one identity at a time, so one immediate run says
		// nothing about a mass deprovisioning: its maxUsers counts the users
		// the rule's immediate runs deprovisioned over the trailing window.
		// Count and store under one lock, so that pushes arriving together
		// on this node are counted one after the other.
		unlock := e.pushLocks.lock(r.ID)
		defer unlock()
		if limit, over, err := e.pushBurst(ctx, r.ID, safety, run.Counts, now); err != nil {
			return run, err
		} else if over {
			run.State, run.Error = store.RunQuarantined, limit
		}
	} else if limit, over := exceeds(safety, run.Counts); over {
		run.State = store.RunQuarantined
		run.Error = limit
	}
	revs := e.revocations(run, p.items)
	params := store.CreateRunParams{Run: &run, Matches: p.matches, Unmatched: p.unmatched}
	if run.State == store.RunCompleted {
		params.Revocations = revs
	}
	params.Events = append(params.Events, e.runEvent(run, r))
	params.RevocationEvent = func(rv store.Revocation) audit.Event {
		return e.revocationEvent(rv, cmpOr(o.Actor, "system"), "revocation.scheduled",
			fmt.Sprintf("%s of %s in %s scheduled, due %s", rv.Action, rv.UserName, rv.ApplicationID, rv.DueAt.Format(time.RFC3339)))
	}
	err = e.st.CreateRun(ctx, params)
	var exists *store.RunExistsError
	if errors.As(err, &exists) {
		// The fire time's run is stored: finish what its attempt may have
		// been interrupted in, and run nothing twice.
		e.log.Info("rule already ran for this fire time", "rule", ruleID, "run", exists.Run.ID, "fireAt", o.FireAt)
		if err := e.cancelUnmatched(ctx, c, p.cancel, o.Actor); err != nil {
			return exists.Run, err
		}
		return exists.Run, e.Enqueue(ctx)
	}
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return run, fmt.Errorf("run %s: another run scheduled the same revocations meanwhile; run it again: %w", ruleID, err)
		}
		return run, fmt.Errorf("run %s: %w", ruleID, err)
	}
	if err := e.cancelUnmatched(ctx, c, p.cancel, o.Actor); err != nil {
		return run, err
	}
	if err := e.Enqueue(ctx); err != nil {
		return run, err
	}
	e.log.Info("rule run", "rule", ruleID, "run", run.ID, "state", run.State, "matched", run.Counts.Matched, "planned", run.Counts.Planned, "skipped", run.Counts.Skipped)
	return run, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// exceeds reports whether a plan breaks the rule's safety limits.
func exceeds(s config.Safety, n rule.Counts) (string, bool) {
	if s.MaxUsers != nil && n.Users > *s.MaxUsers {
		return fmt.Sprintf("quarantined: %d users to deprovision exceeds safety.maxUsers %d", n.Users, *s.MaxUsers), true
	}
	if s.MaxPercent != nil && n.InScope > 0 {
		pct := 100 * float64(n.Users) / float64(n.InScope)
		if pct > *s.MaxPercent {
			return fmt.Sprintf("quarantined: %d of %d users in scope (%.1f%%) exceeds safety.maxPercent %v", n.Users, n.InScope, math.Round(pct*10)/10, *s.MaxPercent), true
		}
	}
	return "", false
}

// keyedMutex is a mutex per key.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*sync.Mutex{}
	}
	m, ok := k.m[key]
	if !ok {
		m = &sync.Mutex{}
		k.m[key] = m
	}
	k.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// PushWindow is the trailing window over which a rule's maxUsers bounds the
// users its immediate runs (pushed terminations) deprovision.
const PushWindow = time.Hour

// pushBurst reports whether an immediate run that would deprovision
// n.Users more users breaks the rule's maxUsers, counted with the users its
// immediate runs scheduled (completed or approved runs) since PushWindow
// ago: a source pushing a mass termination one user at a time is stopped
// like a scheduled run that plans one.
func (e *Engine) pushBurst(ctx context.Context, ruleID string, s config.Safety, n rule.Counts, now time.Time) (string, bool, error) {
	if s.MaxUsers == nil || n.Users == 0 {
		return "", false, nil
	}
	since, users := now.Add(-PushWindow), n.Users
	for before := int64(0); ; {
		page, err := e.st.ListRuns(ctx, store.RunQuery{RuleID: ruleID, Before: before, Limit: 500})
		if err != nil {
			return "", false, err
		}
		for _, r := range page {
			if r.StartedAt.Before(since) {
				page = nil
				break
			}
			if r.Trigger == "immediate" && (r.State == store.RunCompleted || r.State == store.RunApproved) {
				users += r.Counts.Users
			}
		}
		if len(page) < 500 {
			break
		}
		before = page[len(page)-1].ID
	}
	if users <= *s.MaxUsers {
		return "", false, nil
	}
	return fmt.Sprintf("quarantined: pushes would deprovision %d users within %s through this rule, more than safety.maxUsers %d",
		users, PushWindow, *s.MaxUsers), true, nil
}

// How many skips, and how many exclusions when the skips are too many, a
// run's audit event lists.
const (
	maxSkips      = 1000
	maxExclusions = 10000
)

func (e *Engine) runEvent(run store.Run, r config.Rule) audit.Event {
	action, msg := "run.completed", fmt.Sprintf("rule %s ran: %d matched, %d revocations planned, %d skipped", r.ID, run.Counts.Matched, run.Counts.Planned, run.Counts.Skipped)
	if run.State == store.RunQuarantined {
		action, msg = "run.quarantined", fmt.Sprintf("rule %s run quarantined: %s", r.ID, run.Error)
	}
	ev := e.event(run.Actor, action, msg)
	ev.RuleID = r.ID
	ev.Detail = map[string]any{
		"trigger": run.Trigger, "evaluated": run.Counts.Evaluated, "inScope": run.Counts.InScope,
		"matched": run.Counts.Matched, "planned": run.Counts.Planned, "skipped": run.Counts.Skipped, "users": run.Counts.Users,
	}
	// The skips, for the evidence; a run of many keeps its exclusions (what
	// was excluded and why, which an auditor asks for) in a list of their
	// own, up to maxExclusions, and the others in the run's stored plan.
	var skips, excluded []any
	for _, it := range run.Items {
		if it.Planned() {
			continue
		}
		item := map[string]any{"identity": it.IdentityID, "application": it.ApplicationID, "skip": string(it.Skip), "reason": it.Reason}
		skips = append(skips, item)
		if it.Skip == rule.SkipExcluded {
			excluded = append(excluded, item)
		}
	}
	switch {
	case len(skips) > 0 && len(skips) <= maxSkips:
		ev.Detail["skips"] = skips
	case len(excluded) > 0:
		ev.Detail["excluded"] = excluded[:min(len(excluded), maxExclusions)]
		ev.Detail["excludedTotal"] = len(excluded)
	}
	return ev
}

// revocations turns a run's planned items into revocations.
func (e *Engine) revocations(run store.Run, items []rule.Item) []store.Revocation {
	var out []store.Revocation
	for _, it := range items {
		if !it.Planned() {
			continue
		}
		out = append(out, store.Revocation{
			RuleID: run.RuleID, IdentityID: it.IdentityID, UserName: it.UserName,
			ApplicationID: it.ApplicationID, AccountID: it.AccountID, AccountName: it.AccountName,
			Action: it.Action, State: store.Scheduled, DueAt: it.DueAt, CreatedAt: run.StartedAt, UpdatedAt: run.StartedAt,
		})
	}
	return out
}

// plan is the result of evaluating a rule over identities.
type plan struct {
	counts    rule.Counts
	items     []rule.Item
	matches   map[string]time.Time
	unmatched []string
	// cancel lists identities whose active revocations of this rule must be cancelled.
	cancel []identity.Identity
}

// plan evaluates the rule over every identity (or the given keys),
// streaming them from the store in batches.
func (e *Engine) plan(ctx context.Context, c *rule.Compiled, only []string, now time.Time, progress func(done, total int), hookCalls int) (plan, error) {
	ruleID := c.Spec().ID
	p := plan{matches: map[string]time.Time{}}
	total := len(only)
	if progress != nil && only == nil {
		n, err := e.st.CountIdentities(ctx, store.IdentityQuery{})
		if err != nil {
			return p, err
		}
		total = n
	}
	activeRevs, err := e.st.ListRevocations(ctx, store.RevocationQuery{RuleID: ruleID, States: store.Active})
	if err != nil {
		return p, err
	}
	active := map[string]map[string]bool{}
	for _, r := range activeRevs {
		if active[r.IdentityID] == nil {
			active[r.IdentityID] = map[string]bool{}
		}
		active[r.IdentityID][rule.ActiveKey(r.ApplicationID, r.AccountID, r.Action)] = true
	}
	failedRevs, err := e.st.ListRevocations(ctx, store.RevocationQuery{RuleID: ruleID, States: []store.RevocationState{store.Failed}})
	if err != nil {
		return p, err
	}
	failed := map[string][]store.Revocation{}
	for _, r := range failedRevs {
		failed[r.IdentityID] = append(failed[r.IdentityID], r)
	}
	// failedSince is what failed of an identity's revocations since it began
	// to match (first): failures of an earlier spell, before a
	// reinstatement, do not hold up this one.
	failedSince := func(key string, first time.Time, matchedBefore bool) map[string]int64 {
		if !matchedBefore || len(failed[key]) == 0 {
			return nil
		}
		m := map[string]int64{}
		for _, r := range failed[key] {
			if !r.CreatedAt.Before(first) {
				m[rule.ActiveKey(r.ApplicationID, r.AccountID, r.Action)] = r.ID
			}
		}
		return m
	}
	// The next page (identities, their accounts, first matches) is read
	// while this one is evaluated, so that the store's reads and the
	// rule's evaluation use two cores.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for pg := range e.planPages(pctx, ruleID, only) {
		if pg.err != nil {
			return p, pg.err
		}
		input := func(i int) rule.PlanInput {
			id := pg.batch[i]
			key := id.ID()
			first, wasMatched := pg.first[key]
			return rule.PlanInput{Identity: id, Accounts: pg.accounts[key], FirstMatch: first, Active: active[key],
				Failed: failedSince(key, first, wasMatched)}
		}
		planned := planBatch(c, len(pg.batch), input, now, hookCalls)
		for i, id := range pg.batch {
			key := id.ID()
			_, wasMatched := pg.first[key]
			items, d := planned[i].items, planned[i].d
			p.counts.Tally(items, d)
			p.items = append(p.items, items...)
			switch {
			case d.Matched && !wasMatched:
				p.matches[key] = now
			case !d.Matched && d.Err == nil && (wasMatched || active[key] != nil):
				// Reinstated (or never matching again): forget the match so
				// a future match starts a new grace period.
				if wasMatched {
					p.unmatched = append(p.unmatched, key)
				}
				if active[key] != nil {
					p.cancel = append(p.cancel, id)
				}
			}
		}
		if progress != nil {
			progress(p.counts.Evaluated, total)
		}
	}
	return p, nil
}

// planned is one identity's plan items and decision.
type planned struct {
	items []rule.Item
	d     rule.Decision
}

// planBatch plans n identities. A rule with a URL hook calls it for up to
// `calls` identities at once (the rule's process allocation size), so that
// a slow hook does not make a run take n times its answer time; other rules
// are evaluated in turn, which is faster than spreading cheap work.
func planBatch(c *rule.Compiled, n int, input func(i int) rule.PlanInput, now time.Time, calls int) []planned {
	out := make([]planned, n)
	if c.Spec().HookFunc == nil || calls <= 1 {
		for i := range n {
			out[i].items, out[i].d = c.Plan(input(i), now)
		}
		return out
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(calls, n) {
		wg.Go(func() {
			for i := range next {
				out[i].items, out[i].d = c.Plan(input(i), now)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// planPage is one page of identities with what evaluating them needs, or
// the error that ended the reading.
type planPage struct {
	batch    []identity.Identity
	accounts map[string][]account.Account // live accounts by identity key
	first    map[string]time.Time         // the rule's first matches
	err      error
}

// planPages reads pages for plan ahead of it, in two stages that run
// beside each other and beside the evaluation: one reads identities page
// by page, the other their accounts and first matches. The channel closes
// after the last page or after a page with an error; cancelling ctx stops
// both stages.
func (e *Engine) planPages(ctx context.Context, ruleID string, only []string) <-chan planPage {
	batches := make(chan planPage, 1)
	go func() {
		defer close(batches)
		next := e.identityPages(ctx, only)
		for {
			batch, err := next()
			if err == nil && len(batch) == 0 {
				return
			}
			select {
			case batches <- planPage{batch: batch, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	out := make(chan planPage, 1)
	go func() {
		defer close(out)
		for pg := range batches {
			if pg.err == nil {
				pg.accounts, pg.first, pg.err = e.pageData(ctx, ruleID, pg.batch, only == nil)
			}
			select {
			case out <- pg:
			case <-ctx.Done():
				return
			}
			if pg.err != nil {
				return
			}
		}
	}()
	return out
}

// pageData reads the live accounts and the rule's first matches of a page
// of identities. A page of ListIdentities (inOrder) spans a range of keys,
// whose accounts are read as one range rather than identity by identity.
func (e *Engine) pageData(ctx context.Context, ruleID string, batch []identity.Identity, inOrder bool) (map[string][]account.Account, map[string]time.Time, error) {
	keys := make([]string, len(batch))
	byIdentity := make(map[string][]account.Account, len(batch))
	for i, id := range batch {
		keys[i] = id.ID()
		byIdentity[keys[i]] = nil
	}
	q := store.AccountQuery{IdentityIDs: keys}
	if inOrder {
		q = store.AccountQuery{IdentityFrom: keys[0], IdentityTo: keys[len(keys)-1]}
	}
	accts, err := e.st.ListAccounts(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range accts {
		if list, ok := byIdentity[a.IdentityID]; ok {
			byIdentity[a.IdentityID] = append(list, a)
		}
	}
	first, err := e.st.Matches(ctx, ruleID, keys)
	if err != nil {
		return nil, nil, err
	}
	return byIdentity, first, nil
}

// identityPages returns a function yielding identities page by page: all
// of them, or only the given keys.
func (e *Engine) identityPages(ctx context.Context, only []string) func() ([]identity.Identity, error) {
	if only != nil {
		done := false
		return func() ([]identity.Identity, error) {
			if done {
				return nil, nil
			}
			done = true
			var out []identity.Identity
			for _, k := range only {
				id, err := e.st.Identity(ctx, k)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				out = append(out, id)
			}
			return out, nil
		}
	}
	after, done := "", false
	return func() ([]identity.Identity, error) {
		if done {
			return nil, nil
		}
		page, err := e.st.ListIdentities(ctx, store.IdentityQuery{After: after, Limit: batchSize})
		if err != nil {
			return nil, err
		}
		if len(page) < batchSize {
			done = true
		}
		if len(page) > 0 {
			after = page[len(page)-1].ID()
		}
		return page, nil
	}
}

// Reconsider re-evaluates changed identities against the rules of their
// active revocations and cancels those whose rule no longer matches: a
// rehire, a corrected status or a moved end date takes effect at once.
func (e *Engine) Reconsider(ctx context.Context, keys []string, actor string) error {
	if len(keys) == 0 {
		return nil
	}
	changed := make(map[string]bool, len(keys))
	for _, k := range keys {
		changed[k] = true
	}
	pending := []store.RevocationState{store.Scheduled, store.Waiting}
	var revs []store.Revocation
	if len(keys) <= 50 {
		// A push or a small sync: look up each identity's revocations.
		for _, k := range keys {
			rs, err := e.st.ListRevocations(ctx, store.RevocationQuery{IdentityID: k, States: pending})
			if err != nil {
				return err
			}
			revs = append(revs, rs...)
		}
	} else {
		rs, err := e.st.ListRevocations(ctx, store.RevocationQuery{States: pending})
		if err != nil {
			return err
		}
		revs = rs
	}
	byRule := map[string][]string{}
	for _, r := range revs {
		if changed[r.IdentityID] {
			byRule[r.RuleID] = append(byRule[r.RuleID], r.IdentityID)
		}
	}
	if len(byRule) == 0 {
		return nil
	}
	cfg, _, err := e.st.Config(ctx)
	if err != nil {
		return err
	}
	now := e.Now()
	for ruleID, ids := range byRule {
		r, ok := cfg.Rule(ruleID)
		if !ok {
			continue // the worker cancels revocations of removed rules
		}
		c, err := e.compileRule(ctx, cfg, r)
		if err != nil {
			return err
		}
		var gone []identity.Identity
		for _, k := range dedupe(ids) {
			id, err := e.st.Identity(ctx, k)
			if err != nil {
				return err
			}
			accts, err := e.st.ListAccounts(ctx, store.AccountQuery{IdentityIDs: []string{k}})
			if err != nil {
				return err
			}
			if d := c.Decide(id, accts, now); !d.Matched && d.Err == nil {
				gone = append(gone, id)
			}
		}
		if err := e.cancelUnmatched(ctx, c, gone, actor); err != nil {
			return err
		}
	}
	return nil
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// cancelUnmatched cancels the scheduled revocations of the rule for
// identities it no longer matches, saying why.
func (e *Engine) cancelUnmatched(ctx context.Context, c *rule.Compiled, ids []identity.Identity, actor string) error {
	ruleID := c.Spec().ID
	for _, id := range ids {
		revs, err := e.st.ListRevocations(ctx, store.RevocationQuery{RuleID: ruleID, IdentityID: id.ID(), States: []store.RevocationState{store.Scheduled, store.Waiting}})
		if err != nil {
			return err
		}
		reason := fmt.Sprintf("identity no longer matches rule %s (%s)", ruleID, describe(id))
		for _, r := range revs {
			if err := e.cancel(ctx, r, reason, actor, true); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
		}
	}
	return nil
}

// describe summarises what a rule reads of an identity.
func describe(id identity.Identity) string {
	parts := []string{"status " + cmpOr(id.Status, "(none)")}
	if !id.EndDate.IsZero() {
		parts = append(parts, "end date "+id.EndDate.String())
	}
	return strings.Join(parts, ", ")
}

// cancel moves a scheduled or waiting revocation to cancelled.
func (e *Engine) cancel(ctx context.Context, r store.Revocation, reason, actor string, forgetMatch bool) error {
	now := e.Now()
	ev := e.revocationEvent(r, actor, "revocation.cancelled", fmt.Sprintf("revocation of %s in %s cancelled: %s", r.UserName, r.ApplicationID, reason))
	_, err := e.st.UpdateRevocation(ctx, r.ID, []store.RevocationState{store.Scheduled, store.Waiting},
		store.RevocationUpdate{State: store.Cancelled, CancelReason: &reason, FinishedAt: &now, ForgetMatch: forgetMatch}, ev)
	if err == nil {
		e.log.Info("revocation cancelled", "revocation", r.ID, "rule", r.RuleID, "user", r.UserName, "application", r.ApplicationID, "reason", reason)
	}
	return err
}

// Cancel cancels a scheduled revocation by hand.
func (e *Engine) Cancel(ctx context.Context, id int64, reason, actor string) (store.Revocation, error) {
	r, err := e.st.Revocation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, invalidf("unknown revocation %d", id)
	}
	if err != nil {
		return r, err
	}
	if r.State != store.Scheduled && r.State != store.Waiting {
		return r, invalidf("revocation %d is %s: only a scheduled or waiting revocation can be cancelled", id, r.State)
	}
	reason = "cancelled by " + actor + cmpOr(prefixed(": ", reason), "")
	if err := e.cancel(ctx, r, reason, actor, false); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return r, invalidf("revocation %d changed state meanwhile; look again", id)
		}
		return r, err
	}
	return e.st.Revocation(ctx, id)
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

func (e *Engine) revocationEvent(r store.Revocation, actor, action, msg string) audit.Event {
	ev := e.event(actor, action, msg)
	ev.RuleID, ev.RunID, ev.RevocationID, ev.IdentityID, ev.ApplicationID = r.RuleID, r.RunID, r.ID, r.IdentityID, r.ApplicationID
	ev.Detail = map[string]any{"action": string(r.Action), "account": r.AccountName, "accountId": r.AccountID}
	return ev
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func storeQueryActive(runID int64) store.RevocationQuery {
	return store.RevocationQuery{RunID: runID, States: []store.RevocationState{store.Scheduled, store.Running}}
}
