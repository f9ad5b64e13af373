package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/deprov/deprov/store"
)

func (a *API) registerTokenRoutes() {
	register(a, store.RoleAdmin, huma.Operation{
		OperationID: "list-tokens", Method: http.MethodGet, Path: "/api/v1/tokens", Tags: []string{"tokens"},
		Summary: "List API tokens", Description: "Every token, revoked ones included; secrets are never kept, so never shown.",
	}, func(ctx context.Context, _ *struct{}) (*body[list[store.Token]], error) {
		ts, err := a.st.ListTokens(ctx)
		if err != nil {
			return nil, err
		}
		return reply(newList(ts)), nil
	})
	register(a, store.RoleAdmin, huma.Operation{
		OperationID: "create-token", Method: http.MethodPost, Path: "/api/v1/tokens", Tags: []string{"tokens"},
		Summary: "Create an API token", DefaultStatus: http.StatusCreated,
		Description: "Returns the secret this once; only its SHA-256 is stored.",
	}, func(ctx context.Context, in *struct {
		Body struct {
			Name string     `json:"name" maxLength:"64" doc:"letters, digits, '.', '_', '@', '-'; audit events name the token as token:<name>"`
			Role store.Role `json:"role" enum:"admin,operator,auditor"`
		}
	}) (*body[CreatedToken], error) {
		var errs []error
		if in.Body.Name == "" {
			errs = append(errs, &huma.ErrorDetail{Location: "body.name", Message: "required"})
		}
		if in.Body.Role == "" {
			errs = append(errs, &huma.ErrorDetail{Location: "body.role", Message: "required: admin, operator or auditor"})
		}
		if len(errs) > 0 {
			return nil, huma.Error422UnprocessableEntity("incomplete token", errs...)
		}
		ct, err := CreateToken(ctx, a.st, in.Body.Name, in.Body.Role, principal(ctx).Actor())
		if err != nil {
			return nil, err
		}
		return reply(ct), nil
	})
	register(a, store.RoleAdmin, huma.Operation{
		OperationID: "revoke-token", Method: http.MethodDelete, Path: "/api/v1/tokens/{id}", Tags: []string{"tokens"},
		Summary: "Revoke an API token", Description: "It stops working at once, console sessions started with it included.",
	}, func(ctx context.Context, in *numPath) (*body[store.Token], error) {
		t, err := RevokeToken(ctx, a.st, in.ID, principal(ctx).Actor())
		if err != nil {
			return nil, notFound(err, "no token %d", in.ID)
		}
		return reply(t), nil
	})
}
