package sandbox

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
)

// user is one stored account.
type user struct {
	id string
	// attrs holds the validated core attributes under their schema names, externalId included.
	// groups is never stored: it is read-only and derived from the groups' members.
	attrs             map[string]any
	created, modified time.Time
}

func (u *user) userName() string {
	s, _ := u.attrs["userName"].(string)
	return s
}

func (u *user) displayName() string {
	s, _ := u.attrs["displayName"].(string)
	return s
}

func (u *user) active() bool { return isActive(u.attrs) }

// isActive treats an absent active attribute as active: the sandbox sets it on create, so it is
// only absent after a client removed it, and an account nobody disabled can still sign in.
func isActive(attrs map[string]any) bool {
	b, ok := attrs["active"].(bool)
	return !ok || b
}

type userHandler struct{ a *App }

var _ scim.ResourceHandler = userHandler{}

func (h userHandler) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	u, err := a.createUser(attrs)
	if err != nil {
		return scim.Resource{}, err
	}
	return a.userResource(u), nil
}

func (h userHandler) Get(_ *http.Request, id string) (scim.Resource, error) {
	a := h.a
	a.mu.RLock()
	defer a.mu.RUnlock()
	u, ok := a.users[id]
	if !ok {
		return scim.Resource{}, notFound("User", id)
	}
	return a.userResource(u), nil
}

func (h userHandler) GetAll(_ *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	a := h.a
	a.mu.RLock()
	defer a.mu.RUnlock()
	matched := make([]*user, 0, len(a.userOrder))
	for _, id := range a.userOrder {
		u := a.users[id]
		if params.FilterValidator != nil {
			r := resource(u.id, a.userAttrs(u, false), u.created, u.modified)
			if !passes(*params.FilterValidator, filterView(r, "User")) {
				continue
			}
		}
		matched = append(matched, u)
	}
	resources := make([]scim.Resource, 0, params.Count)
	for _, u := range page(matched, params) {
		resources = append(resources, a.userResource(u))
	}
	return scim.Page{TotalResults: len(matched), Resources: resources}, nil
}

func (h userHandler) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[id]
	if !ok {
		return scim.Resource{}, notFound("User", id)
	}
	next := copyAttrs(attrs)
	normalize(userSchema, next)
	delete(next, "groups")
	if err := a.checkUserName(next, id); err != nil {
		return scim.Resource{}, err
	}
	a.updateUser(u, next)
	return a.userResource(u), nil
}

func (h userHandler) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[id]
	if !ok {
		return scim.Resource{}, notFound("User", id)
	}
	next, err := applyPatch(userSchema, u.attrs, ops)
	if err != nil {
		return scim.Resource{}, err
	}
	if err := a.checkUserName(next, id); err != nil {
		return scim.Resource{}, err
	}
	a.updateUser(u, next)
	return a.userResource(u), nil
}

func (h userHandler) Delete(_ *http.Request, id string) error {
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[id]
	if !ok {
		return notFound("User", id)
	}
	var left []string
	for _, g := range a.groupsOf(id) {
		g.members = slices.DeleteFunc(g.members, func(m string) bool { return m == id })
		g.modified = a.now()
		left = append(left, g.displayName)
	}
	delete(a.users, id)
	a.userOrder = slices.DeleteFunc(a.userOrder, func(o string) bool { return o == id })
	args := []any{"userName", u.userName(), "id", id}
	if len(left) > 0 {
		args = append(args, "removedFromGroups", left)
	}
	a.log.Info("sandbox: account deleted", args...)
	return nil
}

// createUser validates and stores a new user. The caller holds a.mu for writing.
func (a *App) createUser(attrs map[string]any) (*user, error) {
	attrs = copyAttrs(attrs)
	normalize(userSchema, attrs)
	delete(attrs, "groups")
	if err := a.checkUserName(attrs, ""); err != nil {
		return nil, err
	}
	if _, ok := attrs["active"]; !ok {
		attrs["active"] = true
	}
	now := a.now()
	u := &user{id: newID(), attrs: attrs, created: now, modified: now}
	a.users[u.id] = u
	a.userOrder = append(a.userOrder, u.id)
	a.log.Info("sandbox: account created", "userName", u.userName(), "id", u.id, "active", u.active())
	return u, nil
}

// updateUser stores next as u's attributes and logs what changed, if anything did. The caller
// holds a.mu for writing.
func (a *App) updateUser(u *user, next map[string]any) {
	changed := changedKeys(u.attrs, next)
	if len(changed) == 0 {
		return
	}
	wasActive := u.active()
	u.attrs = next
	u.modified = a.now()
	msg := "sandbox: account updated"
	switch {
	case wasActive && !u.active():
		msg = "sandbox: account disabled"
	case !wasActive && u.active():
		msg = "sandbox: account enabled"
	}
	a.log.Info(msg, "userName", u.userName(), "id", u.id, "changed", changed)
}

// checkUserName enforces what the schema promises: userName is present and unique
// (case-insensitively, as it is not caseExact) among users other than selfID.
func (a *App) checkUserName(attrs map[string]any, selfID string) error {
	name, _ := attrs["userName"].(string)
	if strings.TrimSpace(name) == "" {
		return scimError(scimerrors.ScimErrorInvalidValue, "userName is required.")
	}
	for id, u := range a.users {
		if id != selfID && strings.EqualFold(u.userName(), name) {
			return scimError(scimerrors.ScimErrorUniqueness, "userName %q is already taken.", name)
		}
	}
	return nil
}

// userResource is u as the library returns it, with the read-only groups attribute filled in.
// The caller holds a.mu.
func (a *App) userResource(u *user) scim.Resource {
	return resource(u.id, a.userAttrs(u, true), u.created, u.modified)
}

// userAttrs returns u's attributes plus groups; private says whether the result must be a deep
// copy (for handing out) or may share values with the store (for a filter to read under the lock).
func (a *App) userAttrs(u *user, private bool) map[string]any {
	var attrs map[string]any
	if private {
		attrs = copyAttrs(u.attrs)
	} else {
		attrs = make(map[string]any, len(u.attrs)+1)
		for k, v := range u.attrs {
			attrs[k] = v
		}
	}
	if groups := a.groupsOf(u.id); len(groups) > 0 {
		list := make([]any, 0, len(groups))
		for _, g := range groups {
			list = append(list, map[string]any{"value": g.id, "display": g.displayName, "type": "direct"})
		}
		attrs["groups"] = list
	}
	return attrs
}

// changedKeys returns the sorted top-level attribute names whose values differ.
func changedKeys(before, after map[string]any) []string {
	var out []string
	for k, v := range before {
		if w, ok := after[k]; !ok || !reflect.DeepEqual(v, w) {
			out = append(out, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
