package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/rule"
	"github.com/deprov/deprov/schedule"
	"github.com/deprov/deprov/store"
)

// CELCheck is the outcome of compiling an expression.
type CELCheck struct {
	OK     bool       `json:"ok"`
	Errors []CELError `json:"errors,omitempty"`
}

// CELError is one compile error; Line and Column count from 1 (0 when the
// error concerns the whole expression).
type CELError struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// SchedulePreview is when a cron expression fires next.
type SchedulePreview struct {
	Cron     string `json:"cron"`
	Timezone string `json:"timezone"`
	// Syntax is crontab (5 fields) or quartz (6-7 fields).
	Syntax string      `json:"syntax"`
	Next   []time.Time `json:"next" nullable:"false" doc:"fire times, in the schedule's zone"`
}

// AuditVerification is the outcome of walking the audit chain.
type AuditVerification struct {
	OK     bool   `json:"ok"`
	Events int64  `json:"events" doc:"events that verify"`
	Head   string `json:"head,omitempty" doc:"the last verified event's hash"`
	// Broken names the first event that does not verify.
	Broken *BrokenLink `json:"broken,omitempty"`
}

// BrokenLink names the first event where the chain does not hold.
type BrokenLink struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

type reasonBody struct {
	Reason string `json:"reason,omitempty" maxLength:"2000" doc:"why, for the audit"`
}

type noteBody struct {
	Note string `json:"note,omitempty" maxLength:"2000" doc:"what was done, or why not, for the audit"`
}

func (a *API) registerActionRoutes() {
	register(a, store.RoleOperator, huma.Operation{
		OperationID: "run-rule", Method: http.MethodPost, Path: "/api/v1/rules/{id}/run", Tags: []string{"rules"},
		Summary: "Run a rule now",
		Description: "A dry run returns the plan (identity × application × action, with skips and reasons) and changes nothing. " +
			"A real run stores the run and schedules its revocations (or quarantines it past the rule's safety limits).",
	}, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body *struct {
			DryRun bool `json:"dryRun" doc:"return the plan and change nothing"`
		}
	}) (*body[RunView], error) {
		if err := a.ruleExists(ctx, in.ID); err != nil {
			return nil, err
		}
		dry := in.Body != nil && in.Body.DryRun
		run, err := a.e.Run(ctx, in.ID, engine.RunOptions{DryRun: dry, Trigger: "manual", Actor: principal(ctx).Actor()})
		if err != nil {
			return nil, err
		}
		v := RunView{Run: run, Revocations: []store.Revocation{}}
		if !dry && run.ID != 0 {
			revs, err := a.st.ListRevocations(ctx, store.RevocationQuery{RunID: run.ID})
			if err != nil {
				return nil, err
			}
			v.Revocations = nonNilSlice(revs)
		}
		return reply(v), nil
	})
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "check-cel", Method: http.MethodPost, Path: "/api/v1/rules/check-cel", Tags: []string{"rules"},
		Summary: "Compile a CEL expression",
		Description: "Compiles a scope or hook expression over `user`, `accounts` and `now` as a rule would, and answers ok " +
			"or each error with its line and column. Changes nothing.",
	}, func(_ context.Context, in *struct {
		Body struct {
			Expression string `json:"expression" maxLength:"65536"`
		}
	}) (*body[CELCheck], error) {
		err := rule.CheckExpression(in.Body.Expression)
		if err == nil {
			return reply(CELCheck{OK: true}), nil
		}
		return reply(CELCheck{Errors: celErrors(err.Error())}), nil
	})
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "preview-schedule", Method: http.MethodGet, Path: "/api/v1/schedule/preview", Tags: []string{"rules"},
		Summary: "Next fire times of a cron expression",
		Description: "Five fields are a crontab line; six or seven are Quartz (seconds first, `?`, `L`, `W`, `#`, day-of-week 1-7 from Sunday). " +
			"Invalid input is a 422 naming query.cron or query.timezone.",
	}, func(_ context.Context, in *struct {
		Cron     string `query:"cron" maxLength:"256"`
		Timezone string `query:"timezone" maxLength:"64" doc:"IANA zone; default UTC"`
		N        int    `query:"n" minimum:"0" maximum:"50" doc:"how many, default 5"`
		After    string `query:"after" doc:"RFC 3339 time to start after; default now"`
	}) (*body[SchedulePreview], error) {
		var errs []error
		loc, err := schedule.LoadTimezone(in.Timezone)
		if err != nil {
			errs = append(errs, &huma.ErrorDetail{Location: "query.timezone", Message: err.Error()})
		}
		after := a.e.Now()
		if in.After != "" {
			if after, err = time.Parse(time.RFC3339, in.After); err != nil {
				errs = append(errs, &huma.ErrorDetail{Location: "query.after", Message: "want an RFC 3339 time"})
			}
		}
		var sch *schedule.Schedule
		switch {
		case strings.TrimSpace(in.Cron) == "":
			errs = append(errs, &huma.ErrorDetail{Location: "query.cron", Message: "required"})
		case loc != nil:
			if sch, err = schedule.Parse(in.Cron, loc); err != nil {
				errs = append(errs, &huma.ErrorDetail{Location: "query.cron", Message: err.Error()})
			}
		}
		if len(errs) > 0 {
			return nil, huma.Error422UnprocessableEntity("invalid schedule", errs...)
		}
		syntax := "crontab"
		if n := len(strings.Fields(in.Cron)); n == 6 || n == 7 {
			syntax = "quartz"
		}
		next := sch.NextN(after, cmpInt(in.N, 5))
		for i := range next {
			next[i] = next[i].In(loc)
		}
		return reply(SchedulePreview{Cron: in.Cron, Timezone: loc.String(), Syntax: syntax, Next: nonNilSlice(next)}), nil
	})

	// Runs.
	register(a, store.RoleOperator, huma.Operation{
		OperationID: "approve-run", Method: http.MethodPost, Path: "/api/v1/runs/{id}/approve", Tags: []string{"runs"},
		Summary: "Approve a quarantined run", Description: "Schedules exactly the run's plan.",
	}, func(ctx context.Context, in *numPath) (*body[store.Run], error) {
		if err := a.runExists(ctx, in.ID); err != nil {
			return nil, err
		}
		run, err := a.e.Approve(ctx, in.ID, principal(ctx).Actor())
		if err != nil {
			return nil, err
		}
		return reply(run), nil
	})
	register(a, store.RoleOperator, huma.Operation{
		OperationID: "reject-run", Method: http.MethodPost, Path: "/api/v1/runs/{id}/reject", Tags: []string{"runs"},
		Summary: "Reject a quarantined run", Description: "Nothing of its plan is done.",
	}, func(ctx context.Context, in *struct {
		ID   int64 `path:"id" minimum:"1"`
		Body *reasonBody
	}) (*body[store.Run], error) {
		if err := a.runExists(ctx, in.ID); err != nil {
			return nil, err
		}
		run, err := a.e.Reject(ctx, in.ID, reason(in.Body), principal(ctx).Actor())
		if err != nil {
			return nil, err
		}
		return reply(run), nil
	})
	register(a, store.RoleOperator, huma.Operation{
		OperationID: "undo-run", Method: http.MethodPost, Path: "/api/v1/runs/{id}/undo", Tags: []string{"runs"},
		Summary: "Undo a run",
		Description: "Cancels what of it is still scheduled and restores what it disabled or revoked (re-enable, add back groups) " +
			"as an undo run; deletes that happened are listed as not undoable.",
	}, func(ctx context.Context, in *numPath) (*body[engine.UndoResult], error) {
		if err := a.runExists(ctx, in.ID); err != nil {
			return nil, err
		}
		res, err := a.e.Undo(ctx, in.ID, principal(ctx).Actor())
		if err != nil {
			return nil, err
		}
		res.Restoring, res.Cancelled, res.NotUndoable = nonNilSlice(res.Restoring), nonNilSlice(res.Cancelled), nonNilSlice(res.NotUndoable)
		res.StillRunning = nonNilSlice(res.StillRunning)
		return reply(res), nil
	})

	// Revocations.
	revAction := func(verb, summary, desc string, fn func(ctx context.Context, id int64, text, actor string) (store.Revocation, error), withNote bool) {
		h := func(ctx context.Context, id int64, text string) (*body[store.Revocation], error) {
			if _, err := a.st.Revocation(ctx, id); err != nil {
				return nil, notFound(err, "no revocation %d", id)
			}
			r, err := fn(ctx, id, text, principal(ctx).Actor())
			if err != nil {
				return nil, err
			}
			return reply(r), nil
		}
		op := huma.Operation{
			OperationID: verb + "-revocation", Method: http.MethodPost, Path: "/api/v1/revocations/{id}/" + verb,
			Tags: []string{"revocations"}, Summary: summary, Description: desc,
		}
		if withNote {
			register(a, store.RoleOperator, op, func(ctx context.Context, in *struct {
				ID   int64 `path:"id" minimum:"1"`
				Body *noteBody
			}) (*body[store.Revocation], error) {
				note := ""
				if in.Body != nil {
					note = in.Body.Note
				}
				return h(ctx, in.ID, note)
			})
			return
		}
		register(a, store.RoleOperator, op, func(ctx context.Context, in *struct {
			ID   int64 `path:"id" minimum:"1"`
			Body *reasonBody
		}) (*body[store.Revocation], error) {
			return h(ctx, in.ID, reason(in.Body))
		})
	}
	revAction("cancel", "Cancel a scheduled revocation", "Only a scheduled or waiting revocation can be cancelled.",
		a.e.Cancel, false)
	revAction("complete", "Complete a waiting work item", "Records that a person carried out a manual work item.",
		a.e.Complete, true)
	revAction("reject", "Reject a waiting work item", "Records that a person could not or would not carry it out; the revocation fails with the note (required).",
		a.e.RejectWork, true)
	revAction("retry", "Retry a failed revocation", "Schedules it again, now, with fresh attempts.",
		func(ctx context.Context, id int64, _, actor string) (store.Revocation, error) {
			return a.e.Retry(ctx, id, actor)
		}, false)

	// Sources and applications.
	register(a, store.RoleOperator, huma.Operation{
		OperationID: "sync-source", Method: http.MethodPost, Path: "/api/v1/sources/{id}/sync", Tags: []string{"sources"},
		Summary: "Read a source now",
		Description: "A csv source re-reads its file; a file with any malformed row changes nothing, and a delivery the feed " +
			"guard finds suspicious is held for approval (see held-syncs). A failure to read the source is a 502.",
	}, func(ctx context.Context, in *idPath) (*body[engine.SyncReport], error) {
		cfg, _, err := a.st.Config(ctx)
		if err != nil {
			return nil, err
		}
		if _, ok := cfg.Source(in.ID); !ok {
			return nil, huma.Error404NotFound(fmt.Sprintf("no source %q", in.ID))
		}
		rep, err := a.e.Sync(ctx, in.ID, principal(ctx).Actor())
		if err != nil {
			return nil, a.upstream(ctx, err)
		}
		return reply(rep), nil
	})
	register(a, store.RoleOperator, huma.Operation{
		OperationID: "aggregate-application", Method: http.MethodPost, Path: "/api/v1/applications/{id}/aggregate", Tags: []string{"applications"},
		Summary:     "Aggregate an application now",
		Description: "Lists its accounts through its connector and correlates them to identities. A failure of the target is a 502.",
	}, func(ctx context.Context, in *idPath) (*body[store.AggregateResult], error) {
		cfg, _, err := a.st.Config(ctx)
		if err != nil {
			return nil, err
		}
		if _, ok := cfg.Application(in.ID); !ok {
			return nil, huma.Error404NotFound(fmt.Sprintf("no application %q", in.ID))
		}
		res, err := a.e.Aggregate(ctx, in.ID, principal(ctx).Actor())
		if err != nil {
			return nil, a.upstream(ctx, err)
		}
		return reply(res), nil
	})
	register(a, store.RoleOperator, huma.Operation{
		OperationID: "approve-held-sync", Method: http.MethodPost, Path: "/api/v1/held-syncs/{id}/approve", Tags: []string{"sources"},
		Summary: "Approve a held delivery", Description: "Applies it as it was received.",
	}, func(ctx context.Context, in *numPath) (*body[engine.SyncReport], error) {
		if _, err := a.st.HeldSync(ctx, in.ID); err != nil {
			return nil, notFound(err, "no held delivery %d", in.ID)
		}
		rep, err := a.e.ApproveSync(ctx, in.ID, principal(ctx).Actor())
		if err != nil {
			return nil, err
		}
		return reply(rep), nil
	})
	register(a, store.RoleOperator, huma.Operation{
		OperationID: "reject-held-sync", Method: http.MethodPost, Path: "/api/v1/held-syncs/{id}/reject", Tags: []string{"sources"},
		Summary: "Reject a held delivery", Description: "Discards it.",
	}, func(ctx context.Context, in *struct {
		ID   int64 `path:"id" minimum:"1"`
		Body *reasonBody
	}) (*body[store.HeldSync], error) {
		if _, err := a.st.HeldSync(ctx, in.ID); err != nil {
			return nil, notFound(err, "no held delivery %d", in.ID)
		}
		h, err := a.e.RejectSync(ctx, in.ID, reason(in.Body), principal(ctx).Actor())
		if err != nil {
			return nil, err
		}
		return reply(h), nil
	})

	// Evidence.
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "verify-audit", Method: http.MethodGet, Path: "/api/v1/audit/verify", Tags: []string{"audit"},
		Summary:     "Verify the audit chain",
		Description: "Recomputes every hash; ok is false and broken names the first event that does not match when the chain is broken.",
	}, func(ctx context.Context, _ *struct{}) (*body[AuditVerification], error) {
		res, err := a.e.VerifyAudit(ctx)
		if err != nil {
			return nil, err
		}
		v := AuditVerification{OK: res.Broken == nil, Events: res.Events, Head: res.Head}
		if res.Broken != nil {
			v.Broken = &BrokenLink{Seq: res.Broken.Seq, Reason: res.Broken.Reason}
		}
		return reply(v), nil
	})
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "export-audit", Method: http.MethodGet, Path: "/api/v1/audit/export", Tags: []string{"audit"},
		Summary: "Export audit evidence",
		Description: "The selected events in chain order as CSV or JSON, with the head of the whole chain, as " +
			"`deprov audit export` writes them.",
		Responses: map[string]*huma.Response{"200": {
			Description: "the evidence",
			Content: map[string]*huma.MediaType{
				"text/csv":         {Schema: &huma.Schema{Type: "string"}},
				"application/json": {Schema: &huma.Schema{Type: "object"}},
			},
		}},
	}, func(ctx context.Context, in *struct {
		Format   string `query:"format" enum:"csv,json" doc:"default csv"`
		Rule     string `query:"rule"`
		Identity string `query:"identity" doc:"source/externalId"`
		From     string `query:"from" doc:"events at or after this RFC 3339 time or date"`
		To       string `query:"to" doc:"events before this RFC 3339 time or date"`
	}) (*huma.StreamResponse, error) {
		q, err := auditQuery(in.Rule, in.Identity, in.From, in.To)
		if err != nil {
			return nil, err
		}
		format := in.Format
		if format == "" {
			format = "csv"
		}
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			ct := "text/csv; charset=utf-8"
			if format == "json" {
				ct = "application/json"
			}
			hc.SetHeader("Content-Type", ct)
			hc.SetHeader("Content-Disposition", `attachment; filename="deprov-audit.`+format+`"`)
			hc.SetStatus(http.StatusOK)
			if err := a.e.ExportAudit(hc.Context(), q, format, hc.BodyWriter()); err != nil {
				a.log.Error("audit export failed midway", "request_id", RequestID(ctx), "error", err)
			}
		}}, nil
	})
}

// upstream maps a failure to reach a source or an application: the
// request was fine, the system behind it was not (502).
func (a *API) upstream(ctx context.Context, err error) error {
	var ve *config.ValidationError
	if errors.Is(err, engine.ErrInvalid) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) ||
		errors.As(err, &ve) || errors.Is(err, context.Canceled) {
		return err
	}
	a.log.Warn("source or application failed", "request_id", RequestID(ctx), "error", a.scrub(ctx, err.Error()))
	return huma.NewError(http.StatusBadGateway, a.scrub(ctx, err.Error()))
}

func (a *API) ruleExists(ctx context.Context, id string) error {
	cfg, _, err := a.st.Config(ctx)
	if err != nil {
		return err
	}
	if _, ok := cfg.Rule(id); !ok {
		return huma.Error404NotFound(fmt.Sprintf("no rule %q", id))
	}
	return nil
}

func (a *API) runExists(ctx context.Context, id int64) error {
	if _, err := a.st.Run(ctx, id); err != nil {
		return notFound(err, "no run %d", id)
	}
	return nil
}

func reason(b *reasonBody) string {
	if b == nil {
		return ""
	}
	return b.Reason
}

func cmpInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

var celPos = regexp.MustCompile(`line (\d+), column (\d+): `)

// celErrors splits rule.CheckExpression's message ("line L, column C: msg;
// line …") into its errors.
func celErrors(msg string) []CELError {
	idx := celPos.FindAllStringSubmatchIndex(msg, -1)
	if len(idx) == 0 {
		return []CELError{{Message: msg}}
	}
	out := make([]CELError, 0, len(idx))
	for i, m := range idx {
		end := len(msg)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		line, _ := strconv.Atoi(msg[m[2]:m[3]])
		col, _ := strconv.Atoi(msg[m[4]:m[5]])
		text := strings.TrimSuffix(strings.TrimSpace(msg[m[1]:end]), ";")
		out = append(out, CELError{Line: line, Column: col, Message: text})
	}
	return out
}
