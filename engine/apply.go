package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/identity/scimsource"
	"github.com/deprov/deprov/store"
)

// Change is one difference between the stored configuration and a new one.
type Change struct {
	// Kind is application, source or rule.
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Op is create, update or delete.
	Op string `json:"op"`
}

// Diff lists what applying next over prev would change.
func Diff(prev, next config.Config) []Change {
	var out []Change
	out = append(out, diffKind("application", byID(prev.Applications, func(a config.Application) string { return a.ID }), byID(next.Applications, func(a config.Application) string { return a.ID }))...)
	out = append(out, diffKind("source", byID(prev.Sources, func(s config.Source) string { return s.ID }), byID(next.Sources, func(s config.Source) string { return s.ID }))...)
	out = append(out, diffKind("rule", byID(prev.Rules, func(r config.Rule) string { return r.ID }), byID(next.Rules, func(r config.Rule) string { return r.ID }))...)
	if !reflect.DeepEqual(prev.Defaults, next.Defaults) {
		out = append(out, Change{Kind: "defaults", ID: "defaults", Op: "update"})
	}
	return out
}

func byID[T any](xs []T, id func(T) string) map[string]any {
	m := make(map[string]any, len(xs))
	for _, x := range xs {
		m[id(x)] = x
	}
	return m
}

func diffKind(kind string, prev, next map[string]any) []Change {
	var out []Change
	for id, n := range next {
		p, ok := prev[id]
		switch {
		case !ok:
			out = append(out, Change{kind, id, "create"})
		case !reflect.DeepEqual(p, n):
			out = append(out, Change{kind, id, "update"})
		}
	}
	for id := range prev {
		if _, ok := next[id]; !ok {
			out = append(out, Change{kind, id, "delete"})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Op < out[j].Op
	})
	return out
}

// Apply validates cfg and, unless dryRun, replaces the stored
// configuration with it, whatever was stored: what `deprov apply -f` does.
// A configuration with any problem changes nothing and returns a
// *config.ValidationError (which wraps no ErrInvalid, but the CLI treats it
// as invalid input). The changes it reports and audits are against the
// configuration it replaced, even when another process applied one at the
// same moment.
func (e *Engine) Apply(ctx context.Context, cfg config.Config, actor string, dryRun bool) ([]Change, error) {
	for attempt := 1; ; attempt++ {
		changes, err := e.ApplyFrom(ctx, cfg, store.AnyVersion, actor, dryRun)
		if !errors.Is(err, store.ErrConflict) || attempt == 5 {
			return changes, err
		}
	}
}

// ApplyFrom is Apply for a configuration made from the stored one at
// version base (an edit of one item): when the stored configuration is no
// longer at base, nothing changes and the error wraps store.ErrConflict, so
// that the caller makes its edit again on the newer configuration instead
// of undoing a change made meanwhile. store.AnyVersion applies cfg over
// whatever is stored.
func (e *Engine) ApplyFrom(ctx context.Context, cfg config.Config, base int64, actor string, dryRun bool) ([]Change, error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	prev, ver, err := e.st.Config(ctx)
	if err != nil {
		return nil, err
	}
	if base != store.AnyVersion && ver != base {
		return nil, fmt.Errorf("apply configuration: %w: it is at version %d, the change was made from version %d", store.ErrConflict, ver, base)
	}
	changes := Diff(prev, cfg)
	if dryRun || len(changes) == 0 {
		return changes, nil
	}
	ev := e.event(actor, "config.applied", fmt.Sprintf("configuration applied: %d change(s)", len(changes)))
	detail := make([]any, 0, len(changes))
	for _, c := range changes {
		detail = append(detail, map[string]any{"kind": c.Kind, "id": c.ID, "op": c.Op})
	}
	ev.Detail = map[string]any{"changes": detail}
	// The store applies cfg only over the version the changes were
	// computed against.
	if err := e.st.ApplyConfig(ctx, cfg, ver, ev); err != nil {
		return nil, fmt.Errorf("apply configuration: %w", err)
	}
	e.configChanged(ctx)
	return changes, nil
}

// validate is config.Validate plus what needs packages config cannot
// import: the SCIM source mappings, and tokens shared by scim sources
// (the token says which source a push belongs to).
func validate(cfg config.Config) error {
	var ps []config.Problem
	if err := cfg.Validate(); err != nil {
		var ve *config.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		ps = ve.Problems
	}
	tokens := map[string]string{}
	for i, s := range cfg.Sources {
		if s.Type != "scim" {
			continue
		}
		if err := scimsource.CheckMapping(s); err != nil {
			ps = append(ps, config.Problem{Path: fmt.Sprintf("sources[%d].%s", i, firstPart(err.Error())), Msg: restPart(err.Error())})
		}
		// Compare tokens as pushes will present them: two references to
		// variables holding one value are one token.
		tok := s.Token
		if v, err := config.Expand(s.Token); err == nil {
			tok = v
		}
		if prev, dup := tokens[tok]; dup && tok != "" {
			ps = append(ps, config.Problem{Path: fmt.Sprintf("sources[%d].token", i), Msg: fmt.Sprintf("the same token as source %s: each scim source needs its own", prev)})
		}
		tokens[tok] = s.ID
	}
	if len(ps) == 0 {
		return nil
	}
	return &config.ValidationError{Problems: ps}
}

func firstPart(s string) string {
	k, _, ok := strings.Cut(s, ": ")
	if !ok {
		return "scim"
	}
	return k
}

func restPart(s string) string {
	_, m, ok := strings.Cut(s, ": ")
	if !ok {
		return s
	}
	return m
}
