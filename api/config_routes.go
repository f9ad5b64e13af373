package api

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/schedule"
	"github.com/deprov/deprov/store"
)

// RuleView is a rule as the API shows it: the configured rule and, for an
// active schedule, when it fires next.
type RuleView struct {
	config.Rule
	NextFireAt *time.Time `json:"nextFireAt,omitempty" readOnly:"true" doc:"when an active schedule fires next (ignored when sent)"`
}

// ConfigView is the whole configuration, secrets redacted.
type ConfigView struct {
	// Version counts applied configurations.
	Version int64         `json:"version"`
	Config  config.Config `json:"config"`
}

// ApplyResult says what applying a configuration changed, or would change.
type ApplyResult struct {
	DryRun  bool            `json:"dryRun"`
	Changes []engine.Change `json:"changes" nullable:"false"`
}

// kind describes one list of the configuration for the generic item routes.
type kind[T any] struct {
	name, plural, tag string
	items             func(*config.Config) *[]T
	id                func(T) string
	setID             func(*T, string)
}

var (
	applications = kind[config.Application]{
		name: "application", plural: "applications", tag: "applications",
		items: func(c *config.Config) *[]config.Application { return &c.Applications },
		id:    func(x config.Application) string { return x.ID },
		setID: func(x *config.Application, id string) { x.ID = id },
	}
	sources = kind[config.Source]{
		name: "source", plural: "sources", tag: "sources",
		items: func(c *config.Config) *[]config.Source { return &c.Sources },
		id:    func(x config.Source) string { return x.ID },
		setID: func(x *config.Source, id string) { x.ID = id },
	}
	rules = kind[config.Rule]{
		name: "rule", plural: "rules", tag: "rules",
		items: func(c *config.Config) *[]config.Rule { return &c.Rules },
		id:    func(x config.Rule) string { return x.ID },
		setID: func(x *config.Rule, id string) { x.ID = id },
	}
)

func (a *API) registerConfigRoutes() {
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "get-config", Method: http.MethodGet, Path: "/api/v1/config", Tags: []string{"configuration"},
		Summary:     "The whole configuration",
		Description: "Applications, sources and rules as `deprov export` shows them: literal secrets are `<redacted>`, `${env:NAME}` references are kept.",
	}, func(ctx context.Context, _ *struct{}) (*body[ConfigView], error) {
		cfg, ver, err := a.st.Config(ctx)
		if err != nil {
			return nil, err
		}
		return reply(ConfigView{Version: ver, Config: nonNil(redact(cfg))}), nil
	})
	register(a, store.RoleAdmin, huma.Operation{
		OperationID: "apply-config", Method: http.MethodPost, Path: "/api/v1/config", Tags: []string{"configuration"},
		Summary: "Apply a whole configuration",
		Description: "Replaces the stored configuration, as `deprov apply` does: what the body does not list is removed. " +
			"The whole body is validated first and every problem is reported with its location (`body.rules[0].schedule.cron`); " +
			"a body with any problem changes nothing. A connector setting or source token sent as `<redacted>` keeps the stored secret of the item with the same id.",
	}, func(ctx context.Context, in *struct {
		DryRun bool `query:"dryRun" doc:"validate and report the changes without applying them"`
		Body   config.Config
	}) (*body[ApplyResult], error) {
		changes, err := a.editConfig(ctx, in.DryRun, func(prev config.Config) (config.Config, error) {
			next := in.Body
			if errs := restoreSecrets(&next, prev, func(path string) string { return "body." + path }); len(errs) > 0 {
				return next, huma.Error422UnprocessableEntity("secret placeholders without a stored secret; nothing was changed", errs...)
			}
			return next, nil
		})
		if err != nil {
			return nil, err
		}
		return reply(ApplyResult{DryRun: in.DryRun, Changes: nonNilSlice(changes)}), nil
	})

	registerItems(a, applications, func(_ *API, x config.Application) config.Application {
		return redact(config.Config{Applications: []config.Application{x}}).Applications[0]
	}, same[config.Application])
	registerItems(a, sources, func(_ *API, x config.Source) config.Source {
		return redact(config.Config{Sources: []config.Source{x}}).Sources[0]
	}, same[config.Source])
	registerItems(a, rules, func(a *API, x config.Rule) RuleView { return a.ruleView(x) },
		func(v RuleView) config.Rule { return v.Rule })
}

// registerItems adds list, get, put and delete of one kind of item.
// view shows an item; fromBody takes the item out of a PUT body.
func registerItems[T, V any](a *API, k kind[T], view func(*API, T) V, fromBody func(V) T) {
	title := strings.ToUpper(k.name[:1]) + k.name[1:]
	base := "/api/v1/" + k.plural
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "list-" + k.plural, Method: http.MethodGet, Path: base, Tags: []string{k.tag},
		Summary: "List " + k.plural, Description: "In the order they were applied; secrets redacted.",
	}, func(ctx context.Context, _ *struct{}) (*body[list[V]], error) {
		cfg, _, err := a.st.Config(ctx)
		if err != nil {
			return nil, err
		}
		xs := *k.items(&cfg)
		out := make([]V, 0, len(xs))
		for _, x := range xs {
			out = append(out, view(a, x))
		}
		return reply(newList(out)), nil
	})
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "get-" + k.name, Method: http.MethodGet, Path: base + "/{id}", Tags: []string{k.tag},
		Summary: "Get a" + article(k.name) + " " + k.name, Description: "Secrets redacted.",
	}, func(ctx context.Context, in *idPath) (*body[V], error) {
		cfg, _, err := a.st.Config(ctx)
		if err != nil {
			return nil, err
		}
		xs := *k.items(&cfg)
		i := slices.IndexFunc(xs, func(x T) bool { return k.id(x) == in.ID })
		if i < 0 {
			return nil, huma.Error404NotFound(fmt.Sprintf("no %s %q", k.name, in.ID))
		}
		return reply(view(a, xs[i])), nil
	})
	register(a, store.RoleAdmin, huma.Operation{
		OperationID: "put-" + k.name, Method: http.MethodPut, Path: base + "/{id}", Tags: []string{k.tag},
		Summary: "Create or replace a" + article(k.name) + " " + k.name,
		Description: title + " {id} is replaced by the body (or added after the others), and the resulting configuration is " +
			"applied exactly as `deprov apply` applies a file: every problem is reported, with locations in the body " +
			"(`body.schedule.cron`) or, for problems the change causes elsewhere, in the stored configuration " +
			"(`config.rules[2].excludeApplications[0]`); a change with any problem changes nothing. The body's id may be " +
			"left out; if given it must be {id}.",
	}, func(ctx context.Context, in *struct {
		ID     string `path:"id" maxLength:"64"`
		DryRun bool   `query:"dryRun" doc:"validate and report without applying"`
		Body   V
	}) (*body[V], error) {
		item := fromBody(in.Body)
		if id := k.id(item); id != "" && id != in.ID {
			return nil, huma.Error422UnprocessableEntity("the body's id differs from the path's",
				&huma.ErrorDetail{Location: "body.id", Message: fmt.Sprintf("is %q, the path says %q", id, in.ID)})
		}
		k.setID(&item, in.ID)
		var next config.Config
		var i int
		var locate func(string) string
		_, err := a.editConfig(ctx, in.DryRun, func(prev config.Config) (config.Config, error) {
			next = cloneConfig(prev)
			xs := k.items(&next)
			i = slices.IndexFunc(*xs, func(x T) bool { return k.id(x) == in.ID })
			if i < 0 {
				*xs = append(*xs, item)
				i = len(*xs) - 1
			} else {
				(*xs)[i] = item
			}
			prefix := fmt.Sprintf("%s[%d]", k.plural, i)
			locate = func(path string) string {
				switch {
				case path == prefix:
					return "body"
				case strings.HasPrefix(path, prefix+"."):
					return "body." + strings.TrimPrefix(path, prefix+".")
				}
				return ""
			}
			if errs := restoreSecrets(&next, prev, locate); len(errs) > 0 {
				return next, huma.Error422UnprocessableEntity("secret placeholders without a stored secret; nothing was changed", errs...)
			}
			return next, nil
		})
		if err != nil {
			return nil, a.configError(err, next, locate)
		}
		return reply(view(a, (*k.items(&next))[i])), nil
	})
	register(a, store.RoleAdmin, huma.Operation{
		OperationID: "delete-" + k.name, Method: http.MethodDelete, Path: base + "/{id}", Tags: []string{k.tag},
		Summary:     "Remove a" + article(k.name) + " " + k.name,
		Description: "Applies the configuration without it; refused (422, naming what still refers to it) when that leaves the configuration invalid.",
	}, func(ctx context.Context, in *idPath) (*noBody, error) {
		var next config.Config
		_, err := a.editConfig(ctx, false, func(prev config.Config) (config.Config, error) {
			next = cloneConfig(prev)
			xs := k.items(&next)
			i := slices.IndexFunc(*xs, func(x T) bool { return k.id(x) == in.ID })
			if i < 0 {
				return next, huma.Error404NotFound(fmt.Sprintf("no %s %q", k.name, in.ID))
			}
			*xs = slices.Delete(*xs, i, i+1)
			return next, nil
		})
		if err != nil {
			return nil, a.configError(err, next, func(string) string { return "" })
		}
		return nil, nil
	})
}

func same[T any](x T) T { return x }

func article(name string) string {
	if strings.ContainsRune("aeiou", rune(name[0])) {
		return "n"
	}
	return ""
}

// configError maps the error of applying next; problems are located by
// locate, or named by their item elsewhere in the configuration.
// maxEditAttempts bounds how often an edit is made again because other
// nodes changed the configuration first.
const maxEditAttempts = 20

// editConfig makes an edit of the stored configuration and applies the
// result: edit gets the configuration as stored and returns the one to
// apply (or an error, which is returned as it is). The result is applied
// only over the version edit saw; when another node or process changed the
// configuration meanwhile, the edit is made again on the newer one, so that
// neither change is lost. This node's edits take turns.
func (a *API) editConfig(ctx context.Context, dryRun bool, edit func(prev config.Config) (config.Config, error)) ([]engine.Change, error) {
	a.configMu.Lock()
	defer a.configMu.Unlock()
	for attempt := 1; ; attempt++ {
		prev, ver, err := a.st.Config(ctx)
		if err != nil {
			return nil, err
		}
		next, err := edit(prev)
		if err != nil {
			return nil, err
		}
		changes, err := a.e.ApplyFrom(ctx, next, ver, principal(ctx).Actor(), dryRun)
		if !errors.Is(err, store.ErrConflict) || attempt == maxEditAttempts {
			return changes, err
		}
		// Another node got in first: let it finish, then edit anew.
		select {
		case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(5*time.Millisecond)))):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (a *API) configError(err error, next config.Config, locate func(string) string) error {
	if ve, ok := err.(*config.ValidationError); ok {
		return configProblems(ve, locate, func(path string) string { return describeItem(next, path) })
	}
	return err
}

var itemPath = regexp.MustCompile(`^(applications|sources|rules)\[(\d+)\]`)

// describeItem names the item a problem path is in: `rule "leavers": `.
func describeItem(c config.Config, path string) string {
	m := itemPath.FindStringSubmatch(path)
	if m == nil {
		return ""
	}
	i, _ := strconv.Atoi(m[2])
	id := ""
	switch m[1] {
	case "applications":
		if i < len(c.Applications) {
			id = "application " + strconv.Quote(c.Applications[i].ID)
		}
	case "sources":
		if i < len(c.Sources) {
			id = "source " + strconv.Quote(c.Sources[i].ID)
		}
	case "rules":
		if i < len(c.Rules) {
			id = "rule " + strconv.Quote(c.Rules[i].ID)
		}
	}
	if id == "" {
		return ""
	}
	return id + ": "
}

// ruleView adds the next fire time of an active schedule.
func (a *API) ruleView(r config.Rule) RuleView {
	v := RuleView{Rule: r}
	if s := r.Schedule; s != nil && s.Active {
		if loc, err := schedule.LoadTimezone(s.Timezone); err == nil {
			if sch, err := schedule.Parse(s.Cron, loc); err == nil {
				if t := sch.Next(a.e.Now()); !t.IsZero() {
					t = t.In(loc)
					v.NextFireAt = &t
				}
			}
		}
	}
	return v
}

// cloneConfig copies the item lists (everything else is kept as it is),
// so that editing one item does not touch the value read a moment ago.
func cloneConfig(c config.Config) config.Config {
	out := c
	out.Applications = slices.Clone(c.Applications)
	out.Sources = slices.Clone(c.Sources)
	out.Rules = slices.Clone(c.Rules)
	return out
}

// redact hides every literal secret: config.Redacted for the known
// connector types, and every literal string setting of a type this binary
// does not know (it cannot tell which of them are secrets).
func redact(c config.Config) config.Config {
	out := config.Redacted(c)
	for i, app := range out.Applications {
		if _, known := connector.Lookup(app.Connector.Type); known {
			continue
		}
		out.Applications[i].Connector.Settings, _ = redactAll(app.Connector.Settings).(map[string]any)
	}
	return out
}

// redactAll hides every literal string in v, maps and lists walked.
func redactAll(v any) any {
	switch x := v.(type) {
	case string:
		if x != "" && !config.IsReference(x) {
			return config.RedactedValue
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = redactAll(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactAll(e)
		}
		return out
	}
	return v
}

// restoreSecrets puts the stored secret back wherever next carries the
// <redacted> placeholder (a configuration read from the API and sent back),
// matching items by id (and connector type), in maps of secrets too; a
// placeholder with nothing stored behind it is an error at its location.
func restoreSecrets(next *config.Config, prev config.Config, locate func(string) string) []error {
	var errs []error
	bad := func(path string) {
		loc := locate(path)
		if loc == "" {
			loc = "config." + path
		}
		errs = append(errs, &huma.ErrorDetail{Location: loc,
			Message: "is the " + config.RedactedValue + " placeholder and no secret is stored for it: give the secret or an ${env:NAME} reference"})
	}
	for i := range next.Applications {
		app := &next.Applications[i]
		old, had := prev.Application(app.ID)
		had = had && old.Connector.Type == app.Connector.Type
		if !hasPlaceholder(app.Connector.Settings) {
			continue
		}
		settings := make(map[string]any, len(app.Connector.Settings))
		for k, v := range app.Connector.Settings {
			ov, ok := old.Connector.Settings[k]
			settings[k] = restore(v, ov, had && ok, fmt.Sprintf("applications[%d].connector.%s", i, k), bad)
		}
		app.Connector.Settings = settings
	}
	for i := range next.Sources {
		src := &next.Sources[i]
		if src.Token != config.RedactedValue {
			continue
		}
		if old, had := prev.Source(src.ID); had && old.Token != "" {
			src.Token = old.Token
			continue
		}
		bad(fmt.Sprintf("sources[%d].token", i))
	}
	return errs
}

// restore returns v with each placeholder replaced by what old holds at
// the same place; had says old exists.
func restore(v, old any, had bool, path string, bad func(string)) any {
	switch x := v.(type) {
	case string:
		if x != config.RedactedValue {
			return v
		}
		if had {
			if _, isMap := old.(map[string]any); !isMap {
				return old
			}
		}
		bad(path)
		return v
	case map[string]any:
		om, _ := old.(map[string]any)
		out := make(map[string]any, len(x))
		for k, e := range x {
			oe, ok := om[k]
			out[k] = restore(e, oe, had && ok, path+"."+k, bad)
		}
		return out
	}
	return v
}

func hasPlaceholder(v any) bool {
	switch x := v.(type) {
	case string:
		return x == config.RedactedValue
	case map[string]any:
		for _, e := range x {
			if hasPlaceholder(e) {
				return true
			}
		}
	}
	return false
}

// nonNil gives a configuration empty lists instead of nulls.
func nonNil(c config.Config) config.Config {
	c.Applications = nonNilSlice(c.Applications)
	c.Sources = nonNilSlice(c.Sources)
	c.Rules = nonNilSlice(c.Rules)
	return c
}

func nonNilSlice[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
