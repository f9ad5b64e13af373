package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
)

// writeProblem writes an RFC 9457 problem outside huma (plain routes,
// middleware), in the shape huma writes its own.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: detail})
}

// problem turns an error of the engine or the store into an HTTP problem.
// at prefixes the locations of configuration problems (see configProblems).
func (a *API) problem(ctx context.Context, err error) error {
	var se huma.StatusError
	var ve *config.ValidationError
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &ve):
		return configProblems(ve, func(p string) string { return "body." + p }, nil)
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound(a.scrub(ctx, err.Error()))
	case errors.Is(err, store.ErrConflict):
		return huma.Error409Conflict(a.scrub(ctx, err.Error()))
	case errors.Is(err, engine.ErrInvalid):
		return huma.Error422UnprocessableEntity(a.scrub(ctx, strings.TrimPrefix(err.Error(), engine.ErrInvalid.Error()+": ")))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return huma.NewError(http.StatusServiceUnavailable, "the request was cancelled or timed out: "+a.scrub(ctx, err.Error()))
	}
	a.log.Error("request failed", "request_id", RequestID(ctx), "error", a.scrub(ctx, err.Error()))
	return huma.Error500InternalServerError(a.scrub(ctx, err.Error()))
}

// configProblems maps every problem of a configuration to an error detail
// whose location names the field: locate returns the location of a
// problem's path, or "" for a problem outside what the request sent, which
// is then named by other (config.rules[2].…) with the message prefixed.
func configProblems(ve *config.ValidationError, locate func(string) string, describe func(string) string) huma.StatusError {
	errs := make([]error, 0, len(ve.Problems))
	for _, p := range ve.Problems {
		loc := locate(p.Path)
		msg := p.Msg
		if loc == "" {
			loc = "config." + p.Path
			if describe != nil {
				msg = describe(p.Path) + msg
			}
		}
		errs = append(errs, &huma.ErrorDetail{Location: loc, Message: msg})
	}
	detail := fmt.Sprintf("the configuration is invalid (%d problem(s)); nothing was changed", len(ve.Problems))
	return huma.Error422UnprocessableEntity(detail, errs...)
}

// scrubErrors is a huma transformer: error details never echo the value
// they concern (huma's schema validation would echo a whole object, secrets
// included, for one misspelt key), and messages lose any configured secret.
func (a *API) scrubErrors(ctx huma.Context, _ string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	scrub := a.scrubber(ctx.Context())
	em.Detail = scrub(em.Detail)
	for _, d := range em.Errors {
		if d == nil {
			continue
		}
		d.Value = nil
		d.Message = scrub(d.Message)
	}
	return em, nil
}

// secretValues lists the configuration's secret values as connectors see
// them: literal secrets and the values of referenced variables, in the
// secret settings of each application (every setting of a type this binary
// does not know) and the sources' tokens.
func (a *API) secretValues(ctx context.Context) []string {
	cfg, _, err := a.st.Config(context.WithoutCancel(ctx))
	if err != nil {
		return nil
	}
	var out []string
	add := func(s string) {
		if x, err := config.Expand(s); err == nil {
			s = x
		}
		if len(strings.TrimSpace(s)) >= 4 && s != config.RedactedValue {
			out = append(out, s)
		}
	}
	for _, app := range cfg.Applications {
		f, known := connector.Lookup(app.Connector.Type)
		for k, v := range app.Connector.Settings {
			if known && !slices.Contains(f.Secrets, k) {
				continue
			}
			for _, s := range leaves(v) {
				add(s)
			}
		}
	}
	for _, s := range cfg.Sources {
		if s.Token != "" {
			add(s.Token)
		}
	}
	return out
}

// leaves returns every string in a setting's value, maps and lists walked.
func leaves(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, leaves(e)...)
		}
		return out
	case map[string]string:
		var out []string
		for _, e := range x {
			out = append(out, e)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return nil
}

// scrub removes configured secrets from a message meant for a client. It
// is a second line of defence: connectors already keep secrets out of
// their errors.
func (a *API) scrub(ctx context.Context, msg string) string { return a.scrubber(ctx)(msg) }

// scrubber reads the configured secrets once for several messages.
func (a *API) scrubber(ctx context.Context) func(string) string {
	var secrets []string
	read := false
	return func(msg string) string {
		if msg == "" {
			return msg
		}
		if !read {
			secrets, read = a.secretValues(ctx), true
		}
		for _, s := range secrets {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
		return msg
	}
}
