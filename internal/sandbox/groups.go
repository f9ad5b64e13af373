package sandbox

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
)

// group is one stored group. Members are user ids only: the sandbox has no nested groups.
type group struct {
	id                string
	externalID        string
	displayName       string
	members           []string
	created, modified time.Time
}

type groupHandler struct{ a *App }

var _ scim.ResourceHandler = groupHandler{}

func (h groupHandler) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	g, err := a.createGroup(attrs)
	if err != nil {
		return scim.Resource{}, err
	}
	return a.groupResource(g), nil
}

func (h groupHandler) Get(_ *http.Request, id string) (scim.Resource, error) {
	a := h.a
	a.mu.RLock()
	defer a.mu.RUnlock()
	g, ok := a.groups[id]
	if !ok {
		return scim.Resource{}, notFound("Group", id)
	}
	return a.groupResource(g), nil
}

func (h groupHandler) GetAll(_ *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	a := h.a
	a.mu.RLock()
	defer a.mu.RUnlock()
	matched := make([]scim.Resource, 0, len(a.groupOrder))
	for _, id := range a.groupOrder {
		r := a.groupResource(a.groups[id])
		if params.FilterValidator != nil && !passes(*params.FilterValidator, filterView(r, "Group")) {
			continue
		}
		matched = append(matched, r)
	}
	return scim.Page{TotalResults: len(matched), Resources: page(matched, params)}, nil
}

func (h groupHandler) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.groups[id]
	if !ok {
		return scim.Resource{}, notFound("Group", id)
	}
	if err := a.updateGroup(g, attrs); err != nil {
		return scim.Resource{}, err
	}
	return a.groupResource(g), nil
}

func (h groupHandler) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.groups[id]
	if !ok {
		return scim.Resource{}, notFound("Group", id)
	}
	next, err := applyPatch(groupSchema, a.groupAttrs(g), ops)
	if err != nil {
		return scim.Resource{}, err
	}
	if err := a.updateGroup(g, next); err != nil {
		return scim.Resource{}, err
	}
	return a.groupResource(g), nil
}

func (h groupHandler) Delete(_ *http.Request, id string) error {
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.groups[id]
	if !ok {
		return notFound("Group", id)
	}
	delete(a.groups, id)
	a.groupOrder = slices.DeleteFunc(a.groupOrder, func(o string) bool { return o == id })
	a.log.Info("sandbox: group deleted", "group", g.displayName, "id", id, "members", len(g.members))
	return nil
}

// createGroup validates and stores a new group. The caller holds a.mu for writing.
func (a *App) createGroup(attrs map[string]any) (*group, error) {
	displayName, externalID, members, err := a.parseGroup(attrs)
	if err != nil {
		return nil, err
	}
	now := a.now()
	g := &group{
		id:          newID(),
		externalID:  externalID,
		displayName: displayName,
		members:     members,
		created:     now,
		modified:    now,
	}
	a.groups[g.id] = g
	a.groupOrder = append(a.groupOrder, g.id)
	a.log.Info("sandbox: group created", "group", g.displayName, "id", g.id, "members", len(g.members))
	return g, nil
}

// updateGroup replaces g's state with attrs, logging one line per membership change and one for
// any other change. The caller holds a.mu for writing.
func (a *App) updateGroup(g *group, attrs map[string]any) error {
	displayName, externalID, members, err := a.parseGroup(attrs)
	if err != nil {
		return err
	}
	var changed []string
	if displayName != g.displayName {
		changed = append(changed, "displayName")
	}
	if externalID != g.externalID {
		changed = append(changed, "externalId")
	}
	removed := slices.DeleteFunc(slices.Clone(g.members), func(id string) bool { return slices.Contains(members, id) })
	added := slices.DeleteFunc(slices.Clone(members), func(id string) bool { return slices.Contains(g.members, id) })
	if len(changed) == 0 && len(removed) == 0 && len(added) == 0 {
		return nil // a reordering of members is not a change worth a log line
	}
	g.displayName, g.externalID, g.members = displayName, externalID, members
	g.modified = a.now()
	for _, id := range removed {
		a.log.Info("sandbox: group member removed", "group", g.displayName, "userName", a.users[id].userName(), "userId", id)
	}
	for _, id := range added {
		a.log.Info("sandbox: group member added", "group", g.displayName, "userName", a.users[id].userName(), "userId", id)
	}
	if len(changed) > 0 {
		a.log.Info("sandbox: group updated", "group", g.displayName, "id", g.id, "changed", changed)
	}
	return nil
}

// parseGroup checks a group's attributes: a displayName, and members that are existing users
// (duplicates collapse to one). The caller holds a.mu.
func (a *App) parseGroup(attrs map[string]any) (displayName, externalID string, members []string, err error) {
	displayName, _ = attrs["displayName"].(string)
	if strings.TrimSpace(displayName) == "" {
		return "", "", nil, scimError(scimerrors.ScimErrorInvalidValue, "displayName is required.")
	}
	externalID, _ = attrs["externalId"].(string)
	members = []string{}
	for _, m := range asList(attrs["members"]) {
		obj, _ := m.(map[string]any)
		id, _ := obj["value"].(string)
		if id == "" {
			return "", "", nil, scimError(scimerrors.ScimErrorInvalidValue, "A member needs a value (the user's id).")
		}
		if _, ok := a.users[id]; !ok {
			return "", "", nil, scimError(scimerrors.ScimErrorInvalidValue, "No user with id %q; the sandbox's groups hold users only.", id)
		}
		if !slices.Contains(members, id) {
			members = append(members, id)
		}
	}
	return displayName, externalID, members, nil
}

// groupAttrs is g as a JSON-shaped map, freshly allocated. Members carry display (the user's
// displayName, else userName) and type, so patch paths such as members[display eq "x"] resolve.
// The caller holds a.mu.
func (a *App) groupAttrs(g *group) map[string]any {
	attrs := map[string]any{"displayName": g.displayName}
	if g.externalID != "" {
		attrs["externalId"] = g.externalID
	}
	if len(g.members) > 0 {
		members := make([]any, 0, len(g.members))
		for _, id := range g.members {
			u := a.users[id]
			display := u.displayName()
			if display == "" {
				display = u.userName()
			}
			members = append(members, map[string]any{"value": id, "display": display, "type": "User"})
		}
		attrs["members"] = members
	}
	return attrs
}

func (a *App) groupResource(g *group) scim.Resource {
	return resource(g.id, a.groupAttrs(g), g.created, g.modified)
}
