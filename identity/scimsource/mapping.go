package scimsource

import (
	"maps"
	"strings"
	"time"

	"github.com/deprov/deprov/identity"
)

// How a User becomes an identity and back:
//
//	id                          ExternalID (the externalId at creation, else a UUID)
//	externalId                  attribute "externalId" when it differs from id
//	userName                    UserName
//	displayName                 DisplayName (else name.formatted, else givenName familyName)
//	name.X                      attribute "name.X"
//	emails                      Email: the primary one, else the first;
//	                            and attribute "emails.TYPE" for each type
//	active / the status path    Status, through the source's mapping
//	the endDate path            EndDate
//	enterprise department       Department
//	enterprise manager.value    Manager
//	other simple attributes     attribute by name (an extension's by its short name)
//
// Multi-valued attributes other than emails, password and read-only
// attributes are accepted and not kept.

// attrExternalID keeps a client's externalId that differs from the id.
const attrExternalID = "externalId"

// toIdentity maps a checked resource to the identity with key id.
func (v *view) toIdentity(res resource, id string) (identity.Identity, *Error) {
	idn := identity.Identity{SourceID: v.source.ID, ExternalID: id, Attributes: map[string]string{}}
	idn.UserName, _ = res["userName"].(string)
	if strings.TrimSpace(idn.UserName) == "" {
		return identity.Identity{}, badValue(`"userName" is required`)
	}
	if x, _ := res[attrExternalID].(string); x != "" && x != id {
		idn.Attributes[attrExternalID] = x
	}
	name, _ := res["name"].(map[string]any)
	for _, k := range sortedKeys(name) {
		if s, ok := name[k].(string); ok {
			idn.Attributes["name."+k] = s
		}
	}
	idn.DisplayName, _ = res["displayName"].(string)
	if idn.DisplayName == "" {
		idn.DisplayName, _ = name["formatted"].(string)
	}
	if idn.DisplayName == "" {
		given, _ := name["givenName"].(string)
		family, _ := name["familyName"].(string)
		idn.DisplayName = strings.TrimSpace(given + " " + family)
	}
	idn.Email = primaryValue(res["emails"])
	emails, _ := res["emails"].([]any)
	for _, e := range emails {
		m, _ := e.(map[string]any)
		typ, _ := m["type"].(string)
		val, _ := m["value"].(string)
		if k := "emails." + typ; val != "" && validName(typ) && idn.Attributes[k] == "" {
			idn.Attributes[k] = val
		}
	}

	var active *bool
	if b, ok := res["active"].(bool); ok {
		active = &b
	}
	for _, s := range v.schemas {
		c := res.container(s, false)
		for _, k := range sortedKeys(c) {
			val, ok := c[k].(string)
			if !ok || v.isEndDate(s, k) {
				continue
			}
			switch {
			case s.id == URNUser && (k == "userName" || k == "displayName" || k == attrExternalID):
			case s.id == URNEnterprise && k == "department":
				idn.Department = val
			default:
				idn.Attributes[k] = val
			}
		}
	}
	ent := res.container(v.schema(URNEnterprise), false)
	if m, ok := ent["manager"].(map[string]any); ok {
		idn.Manager, _ = m["value"].(string)
	}

	if v.endDate != nil {
		raw, _ := res.container(v.endDate.schema, false)[v.endDate.attr.name].(string)
		d, err := identity.ParseEndDate(raw)
		if err != nil {
			return identity.Identity{}, badValue("%q (the source's end date attribute): %v", v.endDate.path, err)
		}
		idn.EndDate = d
	}

	switch {
	case active != nil && !*active:
		idn.Status = v.inactiveStatus
	case v.status != nil && v.text(res, v.status) != "":
		idn.Status = v.text(res, v.status)
	default:
		idn.Status = v.activeStatus
	}
	if len(idn.Attributes) == 0 {
		idn.Attributes = nil
	}
	if err := idn.CheckText(); err != nil {
		return identity.Identity{}, badValue("%v", err)
	}
	return idn, nil
}

func (v *view) isEndDate(s *schema, name string) bool {
	return v.endDate != nil && v.endDate.schema == s && strings.EqualFold(v.endDate.attr.name, name)
}

func (v *view) text(res resource, r *attrRef) string {
	c := res.container(r.schema, false)
	for k, val := range c {
		if strings.EqualFold(k, r.attr.name) {
			s, _ := val.(string)
			return s
		}
	}
	return ""
}

// primaryValue is the value of the primary element, else of the first.
func primaryValue(v any) string {
	arr, _ := v.([]any)
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok && m["primary"] == true {
			s, _ := m["value"].(string)
			return s
		}
	}
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok {
			if s, _ := m["value"].(string); s != "" {
				return s
			}
		}
	}
	return ""
}

// deleted says the identity is one the source deleted: hidden from SCIM.
func (v *view) deleted(idn identity.Identity) bool {
	return strings.EqualFold(idn.Status, v.deletedStatus)
}

// active is the SCIM active of an identity.
func (v *view) active(idn identity.Identity) bool {
	return !strings.EqualFold(idn.Status, v.inactiveStatus) && !v.deleted(idn)
}

// toResource rebuilds the resource of an identity. hidden returns the
// attributes a User of this source cannot show (those of identities that
// came in by another way, e.g. deprov import), which a PUT or PATCH keeps.
func (v *view) toResource(idn identity.Identity) (res resource, hidden map[string]string) {
	res = resource{}
	hidden = maps.Clone(idn.Attributes)
	delete(hidden, attrExternalID)
	res[attrExternalID] = idn.ExternalID
	if x := idn.Attributes[attrExternalID]; x != "" {
		res[attrExternalID] = x
	}
	if idn.UserName != "" {
		res["userName"] = idn.UserName
	}
	if idn.DisplayName != "" {
		res["displayName"] = idn.DisplayName
	}
	name := map[string]any{}
	for _, sa := range v.schemas[0].find("name").sub {
		if s := idn.Attributes["name."+sa.name]; s != "" {
			name[sa.name] = s
			delete(hidden, "name."+sa.name)
		}
	}
	if len(name) > 0 {
		res["name"] = name
	}
	if emails := v.emails(idn, hidden); len(emails) > 0 {
		res["emails"] = emails
	}
	res["active"] = v.active(idn)

	ent := res.container(v.schema(URNEnterprise), true)
	if idn.Department != "" {
		ent["department"] = idn.Department
	}
	if idn.Manager != "" {
		ent["manager"] = map[string]any{"value": idn.Manager}
	}
	var open *schema
	for _, s := range v.schemas {
		if s.open && open == nil {
			open = s
		}
		c := res.container(s, true)
		for _, a := range s.attrs {
			if !a.simple() || a.typ == tBoolean || a.mutability == "writeOnly" || a.readOnly() || a.name == "userName" || a.name == "displayName" || (s.id == URNEnterprise && a.name == "department") {
				continue
			}
			if v.isEndDate(s, a.name) {
				if !idn.EndDate.IsZero() {
					c[a.name] = idn.EndDate.String()
				}
				continue
			}
			// The status attribute shows what the source sent, not the
			// status: a status made from active=false is no text of its.
			if val := idn.Attributes[a.name]; val != "" {
				c[a.name] = val
				delete(hidden, a.name)
			}
		}
	}
	// The first open extension shows what is left, by its short name.
	if open != nil {
		c := res.container(open, true)
		for _, k := range sortedKeys(hidden) {
			if validName(k) && hidden[k] != "" {
				c[k] = hidden[k]
				delete(hidden, k)
			}
		}
	}
	for _, s := range v.extensions() {
		if len(res.container(s, false)) == 0 {
			delete(res, s.id)
		}
	}
	return res, hidden
}

// emails rebuilds the emails: the identity's email as the primary one,
// and one per type the source gave ("emails.work").
func (v *view) emails(idn identity.Identity, hidden map[string]string) []any {
	var out []any
	primary := idn.Email == ""
	for _, k := range sortedKeys(idn.Attributes) {
		typ, ok := strings.CutPrefix(k, "emails.")
		if !ok || !validName(typ) || idn.Attributes[k] == "" {
			continue
		}
		delete(hidden, k)
		e := map[string]any{"value": idn.Attributes[k], "type": typ}
		if !primary && idn.Attributes[k] == idn.Email {
			e["primary"], primary = true, true
			out = append([]any{e}, out...)
			continue
		}
		out = append(out, e)
	}
	if !primary {
		out = append([]any{map[string]any{"value": idn.Email, "primary": true}}, out...)
	}
	return out
}

// render writes a resource as a User, in schema order.
func (v *view) render(res resource, id string, updated time.Time, base string) object {
	schemas := []string{URNUser}
	for _, s := range v.extensions() {
		if len(res.container(s, false)) > 0 {
			schemas = append(schemas, s.id)
		}
	}
	out := object{{"schemas", schemas}, {"id", id}}
	if x, ok := res[attrExternalID]; ok {
		out = append(out, member{attrExternalID, x})
	}
	out = append(out, renderAttrs(v.schemas[0], res)...)
	for _, s := range v.extensions() {
		if c := res.container(s, false); len(c) > 0 {
			out = append(out, member{s.id, renderAttrs(s, c)})
		}
	}
	meta := object{{"resourceType", "User"}}
	if !updated.IsZero() {
		ts := updated.UTC().Format(time.RFC3339)
		meta = append(meta, member{"created", ts}, member{"lastModified", ts})
	}
	meta = append(meta, member{"location", userLocation(base, id)})
	return append(out, member{"meta", meta})
}

func renderAttrs(s *schema, c map[string]any) object {
	var out object
	done := map[string]bool{}
	for _, a := range s.attrs {
		val, ok := c[a.name]
		if !ok {
			continue
		}
		done[a.name] = true
		out = append(out, member{a.name, renderValue(a, val)})
	}
	if s.open {
		for _, k := range sortedKeys(c) {
			if !done[k] {
				out = append(out, member{k, c[k]})
			}
		}
	}
	return out
}

func renderValue(a *attr, val any) any {
	switch x := val.(type) {
	case map[string]any:
		return renderAttrs(&schema{attrs: a.sub}, x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = renderValue(&attr{typ: a.typ, sub: a.sub}, e)
		}
		return out
	}
	return val
}
