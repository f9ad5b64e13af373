package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

// Page sizes.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

func limitOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return min(n, maxLimit)
}

// RunView is a run with its plan and the revocations it scheduled.
type RunView struct {
	store.Run
	Revocations []store.Revocation `json:"revocations" nullable:"false"`
}

// IdentityList is a page of identities with, on request, the count of all
// that match.
type IdentityList struct {
	Items []identity.Identity `json:"items" nullable:"false"`
	Next  string              `json:"next,omitempty" doc:"pass it back as after for the next page; absent on the last page"`
	Total *int                `json:"total,omitempty" doc:"identities matching the filters, when count=true"`
}

func (a *API) registerDataRoutes() {
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "get-me", Method: http.MethodGet, Path: "/api/v1/me", Tags: []string{"tokens"},
		Summary: "Who the request acts as", Description: "The token (name, role) the request authenticated with.",
	}, func(ctx context.Context, _ *struct{}) (*body[Principal], error) {
		return reply(principal(ctx)), nil
	})

	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "list-identities", Method: http.MethodGet, Path: "/api/v1/identities", Tags: []string{"identities"},
		Summary:     "Search identities",
		Description: "In key order (`source/externalId`), paged by key: pass `next` back as `after`.",
	}, func(ctx context.Context, in *struct {
		Search string `query:"search" doc:"a substring of userName, email or displayName, case-insensitive"`
		Source string `query:"source" doc:"only this source's identities"`
		After  string `query:"after" doc:"the key to continue after (the previous page's next)"`
		Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"page size, default 100"`
		Count  bool   `query:"count" doc:"also count every identity matching the filters"`
	}) (*body[IdentityList], error) {
		q := store.IdentityQuery{SourceID: in.Source, Search: in.Search, After: in.After, Limit: limitOr(in.Limit, defaultLimit)}
		page, err := a.st.ListIdentities(ctx, q)
		if err != nil {
			return nil, err
		}
		out := IdentityList{Items: nonNilSlice(page)}
		if len(page) == q.Limit {
			out.Next = page[len(page)-1].ID()
		}
		if in.Count {
			n, err := a.st.CountIdentities(ctx, q)
			if err != nil {
				return nil, err
			}
			out.Total = &n
		}
		return reply(out), nil
	})
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "get-identity", Method: http.MethodGet, Path: "/api/v1/identities/{source}/{externalId}", Tags: []string{"identities"},
		Summary: "Get an identity",
	}, func(ctx context.Context, in *struct {
		Source     string `path:"source"`
		ExternalID string `path:"externalId"`
	}) (*body[identity.Identity], error) {
		id, err := a.st.Identity(ctx, identity.Key(in.Source, in.ExternalID))
		if err != nil {
			return nil, notFound(err, "no identity %s/%s", in.Source, in.ExternalID)
		}
		return reply(id), nil
	})

	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "list-accounts", Method: http.MethodGet, Path: "/api/v1/accounts", Tags: []string{"identities"},
		Summary:     "List accounts",
		Description: "As the last aggregation found them, in (application, native id) order; pass `next` back as `after`.",
	}, func(ctx context.Context, in *struct {
		Application    string `query:"application" doc:"only this application's accounts"`
		Identity       string `query:"identity" doc:"only accounts correlated to this identity (source/externalId)"`
		Uncorrelated   bool   `query:"uncorrelated" doc:"only accounts linked to no identity"`
		IncludeDeleted bool   `query:"includeDeleted" doc:"also accounts the last aggregation no longer saw"`
		After          string `query:"after"`
		Limit          int    `query:"limit" minimum:"0" maximum:"1000" doc:"page size, default 100"`
	}) (*body[list[account.Account]], error) {
		q := store.AccountQuery{ApplicationID: in.Application, Uncorrelated: in.Uncorrelated, IncludeDeleted: in.IncludeDeleted,
			After: in.After, Limit: limitOr(in.Limit, defaultLimit)}
		if in.Identity != "" {
			q.IdentityIDs = []string{in.Identity}
		}
		page, err := a.st.ListAccounts(ctx, q)
		if err != nil {
			return nil, err
		}
		out := pageOf(page, q.Limit, func(a account.Account) string { return a.ApplicationID + "/" + a.NativeID })
		return reply(out), nil
	})

	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "list-runs", Method: http.MethodGet, Path: "/api/v1/runs", Tags: []string{"runs"},
		Summary:     "List runs",
		Description: "Newest first, without their plans; pass `next` back as `before`.",
	}, func(ctx context.Context, in *struct {
		Rule   string `query:"rule" doc:"only this rule's runs"`
		State  string `query:"state" enum:"completed,quarantined,approved,rejected,failed" doc:"only runs in this state"`
		Before int64  `query:"before" minimum:"0" doc:"a run id to continue before"`
		Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"page size, default 50"`
	}) (*body[list[store.Run]], error) {
		q := store.RunQuery{RuleID: in.Rule, State: store.RunState(in.State), Before: in.Before, Limit: limitOr(in.Limit, 50)}
		page, err := a.st.ListRuns(ctx, q)
		if err != nil {
			return nil, err
		}
		return reply(pageOf(page, q.Limit, func(x store.Run) string { return strconv.FormatInt(x.ID, 10) })), nil
	})
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "get-run", Method: http.MethodGet, Path: "/api/v1/runs/{id}", Tags: []string{"runs"},
		Summary:     "Get a run with its plan",
		Description: "The plan's items (planned and skipped, with reasons) and the revocations the run scheduled, with their states.",
	}, func(ctx context.Context, in *numPath) (*body[RunView], error) {
		run, err := a.st.Run(ctx, in.ID)
		if err != nil {
			return nil, notFound(err, "no run %d", in.ID)
		}
		revs, err := a.st.ListRevocations(ctx, store.RevocationQuery{RunID: in.ID})
		if err != nil {
			return nil, err
		}
		return reply(RunView{Run: run, Revocations: nonNilSlice(revs)}), nil
	})

	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "list-revocations", Method: http.MethodGet, Path: "/api/v1/revocations", Tags: []string{"revocations"},
		Summary:     "List revocations",
		Description: "In id order; pass `next` back as `after`.",
	}, func(ctx context.Context, in *struct {
		State       []string `query:"state,explode" doc:"only these states (scheduled, running, waiting, succeeded, failed, cancelled); repeat or separate with commas"`
		Rule        string   `query:"rule"`
		Run         int64    `query:"run" minimum:"0"`
		Identity    string   `query:"identity" doc:"source/externalId"`
		Application string   `query:"application"`
		After       int64    `query:"after" minimum:"0"`
		Limit       int      `query:"limit" minimum:"0" maximum:"1000" doc:"page size, default 100"`
	}) (*body[list[store.Revocation]], error) {
		q := store.RevocationQuery{RuleID: in.Rule, RunID: in.Run, IdentityID: in.Identity, ApplicationID: in.Application,
			After: in.After, Limit: limitOr(in.Limit, defaultLimit)}
		for _, s := range in.State {
			for part := range strings.SplitSeq(s, ",") {
				st := store.RevocationState(strings.TrimSpace(part))
				switch st {
				case "":
				case store.Scheduled, store.Running, store.Waiting, store.Succeeded, store.Failed, store.Cancelled:
					q.States = append(q.States, st)
				default:
					return nil, huma.Error422UnprocessableEntity("unknown revocation state", &huma.ErrorDetail{
						Location: "query.state", Message: fmt.Sprintf("%q: want scheduled, running, waiting, succeeded, failed or cancelled", part)})
				}
			}
		}
		page, err := a.st.ListRevocations(ctx, q)
		if err != nil {
			return nil, err
		}
		return reply(pageOf(page, q.Limit, func(x store.Revocation) string { return strconv.FormatInt(x.ID, 10) })), nil
	})
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "get-revocation", Method: http.MethodGet, Path: "/api/v1/revocations/{id}", Tags: []string{"revocations"},
		Summary: "Get a revocation",
	}, func(ctx context.Context, in *numPath) (*body[store.Revocation], error) {
		r, err := a.st.Revocation(ctx, in.ID)
		if err != nil {
			return nil, notFound(err, "no revocation %d", in.ID)
		}
		return reply(r), nil
	})

	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "list-audit", Method: http.MethodGet, Path: "/api/v1/audit", Tags: []string{"audit"},
		Summary:     "List audit events",
		Description: "In chain order, with the filters of `deprov audit list`; pass `next` back as `after`.",
	}, func(ctx context.Context, in *struct {
		Rule     string `query:"rule"`
		Identity string `query:"identity" doc:"source/externalId"`
		From     string `query:"from" doc:"events at or after this RFC 3339 time or date"`
		To       string `query:"to" doc:"events before this RFC 3339 time or date"`
		Run      int64  `query:"run" minimum:"0"`
		Action   string `query:"action" doc:"only actions starting with this, e.g. revocation."`
		After    int64  `query:"after" minimum:"0" doc:"a chain position to continue after"`
		Limit    int    `query:"limit" minimum:"0" maximum:"1000" doc:"page size, default 100"`
	}) (*body[list[audit.Event]], error) {
		q, err := auditQuery(in.Rule, in.Identity, in.From, in.To)
		if err != nil {
			return nil, err
		}
		q.RunID, q.Action, q.AfterSeq, q.Limit = in.Run, in.Action, in.After, limitOr(in.Limit, defaultLimit)
		page, err := a.st.ListAudit(ctx, q)
		if err != nil {
			return nil, err
		}
		return reply(pageOf(page, q.Limit, func(e audit.Event) string { return strconv.FormatInt(e.Seq, 10) })), nil
	})

	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "list-held-syncs", Method: http.MethodGet, Path: "/api/v1/held-syncs", Tags: []string{"sources"},
		Summary:     "List held source deliveries",
		Description: "Deliveries the feed guard held for approval, newest first, without their identities.",
	}, func(ctx context.Context, in *struct {
		Source string `query:"source"`
		State  string `query:"state" enum:"pending,approved,rejected"`
		Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"default 100"`
	}) (*body[list[store.HeldSync]], error) {
		page, err := a.st.ListHeldSyncs(ctx, store.HeldSyncQuery{SourceID: in.Source, State: store.HeldSyncState(in.State), Limit: limitOr(in.Limit, defaultLimit)})
		if err != nil {
			return nil, err
		}
		return reply(newList(page)), nil
	})
	register(a, store.RoleAuditor, huma.Operation{
		OperationID: "get-held-sync", Method: http.MethodGet, Path: "/api/v1/held-syncs/{id}", Tags: []string{"sources"},
		Summary: "Get a held delivery with its identities",
	}, func(ctx context.Context, in *numPath) (*body[store.HeldSync], error) {
		h, err := a.st.HeldSync(ctx, in.ID)
		if err != nil {
			return nil, notFound(err, "no held delivery %d", in.ID)
		}
		return reply(h), nil
	})
}

// auditQuery is the selection audit list and export share.
func auditQuery(ruleID, identityID, from, to string) (store.AuditQuery, error) {
	q := store.AuditQuery{RuleID: ruleID, IdentityID: identityID}
	var errs []error
	var err error
	if q.From, err = parseTime(from); err != nil {
		errs = append(errs, &huma.ErrorDetail{Location: "query.from", Message: err.Error()})
	}
	if q.To, err = parseTime(to); err != nil {
		errs = append(errs, &huma.ErrorDetail{Location: "query.to", Message: err.Error()})
	}
	if len(errs) > 0 {
		return q, huma.Error422UnprocessableEntity("bad time filter", errs...)
	}
	return q, nil
}

// parseTime reads an RFC 3339 time or a date, as the CLI does.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2026-11-30T17:00:00Z) or date (2026-11-30)", s)
}

// notFound turns the store's ErrNotFound into a 404 with a clear message.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return huma.Error404NotFound(fmt.Sprintf(format, args...))
	}
	return err
}
