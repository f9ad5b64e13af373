package api

import (
	"context"
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/store"
)

// register adds an operation that needs role min. Every operation goes
// through here, so none can be registered without a role (authorize also
// refuses one that has none), and every handler error becomes a problem.
func register[I, O any](a *API, min store.Role, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	op.Metadata = map[string]any{roleKey: min}
	op.MaxBodyBytes = a.maxBody
	op.Security = []map[string][]string{{"bearer": {}}, {"session": {}}}
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions["x-deprov-role"] = string(min)
	op.Description = strings.TrimSpace(op.Description + "\n\nNeeds role **" + string(min) + "** or above.")
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	huma.Register(a.huma, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return out, nil
	})
}

// connectorSchema documents config.Connector, whose settings sit beside
// its type in one flat object (the type's own keys, secrets included).
type connectorSchema struct {
	_    struct{} `json:"-" additionalProperties:"true"`
	Type string   `json:"type" doc:"scim, ldap, webhook or manual; the type's own settings (url, token, ...) sit beside it. Literal secrets read back as <redacted>; send <redacted> back to keep the stored secret."`
}

func registerSchemaAliases(r huma.Registry) {
	r.RegisterTypeAlias(reflect.TypeFor[config.Connector](), reflect.TypeFor[connectorSchema]())
}

// list is the body of every list: a page of items and, when more may
// follow, the cursor to pass back to get them.
type list[T any] struct {
	Items []T `json:"items" nullable:"false"`
	// Next is the cursor of the following page; absent on the last page.
	Next string `json:"next,omitempty" doc:"pass it back (as after, or before for runs) for the next page; absent on the last page"`
}

func newList[T any](items []T) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items}
}

// pageOf is a list whose Next cursor, when the page is full, names its
// last item.
func pageOf[T any](items []T, limit int, cursor func(T) string) list[T] {
	out := newList(items)
	if len(items) == limit && limit > 0 {
		out.Next = cursor(items[len(items)-1])
	}
	return out
}

// body wraps a response body for huma.
type body[T any] struct {
	Body T
}

func reply[T any](v T) *body[T] { return &body[T]{Body: v} }

// idPath is a path parameter of a configuration item or source.
type idPath struct {
	ID string `path:"id" doc:"the item's id" maxLength:"64"`
}

// numPath is a path parameter of a stored record (run, revocation, ...).
type numPath struct {
	ID int64 `path:"id" minimum:"1"`
}

// noBody is the response of an operation that answers 204.
type noBody struct{}
