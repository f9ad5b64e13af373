package rule

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/identity"
)

// CostLimit bounds the runtime cost of one CEL evaluation, so that a hook
// or scope expression cannot hang a run (a comprehension over a large list
// of accounts stays well inside it).
const CostLimit = 1_000_000

// env is the one CEL environment of deprov: `user` (the identity as a map:
// externalId, userName, email, displayName, status, endDate (timestamp),
// department, manager, attributes (map of strings), source), `accounts`
// (a list of maps: application, id, userName, email, state, groups) and
// `now` (timestamp). String fields are always present (empty when the
// source gave none); endDate is absent when unknown, so that
// `user.endDate < now` is an evaluation error (which never deprovisions)
// rather than true, and `has(user.endDate)` tells whether there is one. A
// missing attribute is an error too: test with `"x" in user.attributes`.
var env = func() *cel.Env {
	e, err := cel.NewEnv(
		cel.Variable("user", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("accounts", cel.ListType(cel.MapType(cel.StringType, cel.DynType))),
		cel.Variable("now", cel.TimestampType),
	)
	if err != nil {
		panic("rule: cel environment: " + err.Error())
	}
	return e
}()

// CheckExpression compiles a boolean CEL expression and returns a clear
// error giving the line and column of each problem.
func CheckExpression(expr string) error {
	_, err := compile(expr)
	return err
}

// compileMu serialises type checking. cel-go's checker shares one
// environment between concurrent Compile calls and fills its symbol catalog
// lazily on the first undeclared reference, while another check copies that
// field unguarded when it enters a comprehension's scope: a data race. Rules
// are compiled once per configuration version, so the lock costs nothing
// that matters; evaluation of compiled programs is not serialised.
var compileMu sync.Mutex

func compile(expr string) (cel.Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("empty expression")
	}
	compileMu.Lock()
	defer compileMu.Unlock()
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		msgs := make([]string, 0, len(iss.Errors()))
		for _, e := range iss.Errors() {
			msgs = append(msgs, fmt.Sprintf("line %d, column %d: %s", e.Location.Line(), e.Location.Column()+1, e.Message))
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	if t := ast.OutputType(); !t.IsAssignableType(cel.BoolType) {
		return nil, fmt.Errorf("expression returns %s, want bool", t)
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(CostLimit))
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return prg, nil
}

// userVar is the identity as CEL's `user`. The attributes map is handed
// over, not copied: CEL does not change it.
func userVar(id *identity.Identity, loc *time.Location) map[string]any {
	u := map[string]any{
		"externalId": id.ExternalID, "userName": id.UserName, "source": id.SourceID,
		"email": id.Email, "displayName": id.DisplayName, "status": id.Status,
		"department": id.Department, "manager": id.Manager,
	}
	if !id.EndDate.IsZero() {
		u["endDate"] = id.EndDate.In(loc)
	}
	attrs := id.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	u["attributes"] = attrs
	return u
}

// accountsVar is the identity's accounts as CEL's `accounts`.
func accountsVar(accts []account.Account) []map[string]any {
	list := make([]map[string]any, 0, len(accts))
	for _, a := range accts {
		groups := make([]string, 0, len(a.Entitlements))
		for _, e := range a.Entitlements {
			groups = append(groups, cmpOr(e.Name, e.ID))
		}
		list = append(list, map[string]any{
			"application": a.ApplicationID, "id": a.NativeID, "userName": a.UserName,
			"email": a.Email, "state": string(a.State), "groups": groups,
		})
	}
	return list
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// evalBool runs a compiled boolean program.
func evalBool(prg cel.Program, act any) (bool, error) {
	out, _, err := prg.Eval(act)
	if err != nil {
		return false, err
	}
	return asBool(out)
}

func asBool(v ref.Val) (bool, error) {
	b, ok := v.(types.Bool)
	if !ok {
		return false, fmt.Errorf("expression returned %s, want bool", v.Type().TypeName())
	}
	return bool(b), nil
}

// activation resolves user, accounts and now when the expression first
// reads them: a hook over user alone never builds the accounts list.
type activation struct {
	id    *identity.Identity
	accts []account.Account
	now   time.Time
	loc   *time.Location
	user  map[string]any
	list  []map[string]any
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "user":
		if a.user == nil {
			a.user = userVar(a.id, a.loc)
		}
		return a.user, true
	case "accounts":
		if a.list == nil {
			a.list = accountsVar(a.accts)
		}
		return a.list, true
	case "now":
		return a.now, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }
