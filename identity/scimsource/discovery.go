package scimsource

import (
	"net/http"
	"net/url"
	"strings"
)

// The discovery endpoints of RFC 7644 §4. They are per source: the
// schemas include the attributes and extensions its mapping declares.

func (v *view) serviceProviderConfig(base string) object {
	return object{
		{"schemas", []string{urnSPConfig}},
		{"documentationUri", "https://github.com/deprov/deprov#pointing-an-hr-system-or-idp-at-deprov"},
		{"patch", object{{"supported", true}}},
		{"bulk", object{{"supported", false}, {"maxOperations", 0}, {"maxPayloadSize", 0}}},
		{"filter", object{{"supported", true}, {"maxResults", maxCount}}},
		{"changePassword", object{{"supported", false}}},
		{"sort", object{{"supported", false}}},
		{"etag", object{{"supported", false}}},
		{"authenticationSchemes", []object{{
			{"type", "oauthbearertoken"},
			{"name", "OAuth Bearer Token"},
			{"description", "Authentication with the bearer token configured on the deprov source (Authorization: Bearer <token>)."},
			{"specUri", "https://www.rfc-editor.org/rfc/rfc6750"},
			{"primary", true},
		}}},
		{"meta", object{
			{"resourceType", "ServiceProviderConfig"},
			{"location", base + "/ServiceProviderConfig"},
		}},
	}
}

func (v *view) resourceType(base string) object {
	exts := make([]object, 0, len(v.extensions()))
	for _, s := range v.extensions() {
		exts = append(exts, object{{"schema", s.id}, {"required", false}})
	}
	return object{
		{"schemas", []string{urnResourceType}},
		{"id", "User"},
		{"name", "User"},
		{"endpoint", "/Users"},
		{"description", "A person, as the source says: deprov keeps it as an identity of source " + v.source.ID + "."},
		{"schema", URNUser},
		{"schemaExtensions", exts},
		{"meta", object{
			{"resourceType", "ResourceType"},
			{"location", base + "/ResourceTypes/User"},
		}},
	}
}

func schemaDoc(s *schema, base string) object {
	return object{
		{"schemas", []string{urnSchema}},
		{"id", s.id},
		{"name", s.name},
		{"description", s.description},
		{"attributes", attrDocs(s.attrs)},
		{"meta", object{
			{"resourceType", "Schema"},
			{"location", base + "/Schemas/" + s.id},
		}},
	}
}

func attrDocs(as []*attr) []object {
	out := make([]object, 0, len(as))
	for _, a := range as {
		d := object{
			{"name", a.name},
			{"type", string(a.typ)},
			{"multiValued", a.multi},
			{"description", a.description},
			{"required", a.required},
		}
		if a.typ == tComplex {
			d = append(d, member{"subAttributes", attrDocs(a.sub)})
		} else {
			d = append(d, member{"caseExact", a.caseExact})
		}
		if len(a.canonical) > 0 {
			d = append(d, member{"canonicalValues", a.canonical})
		}
		if len(a.refTypes) > 0 {
			d = append(d, member{"referenceTypes", a.refTypes})
		}
		d = append(d,
			member{"mutability", or(a.mutability, "readWrite")},
			member{"returned", or(a.returned, "default")},
		)
		if a.typ != tComplex && a.typ != tBoolean {
			d = append(d, member{"uniqueness", or(a.uniqueness, "none")})
		}
		out = append(out, d)
	}
	return out
}

func listResponse(resources []object, total, startIndex int) object {
	if resources == nil {
		resources = []object{}
	}
	return object{
		{"schemas", []string{urnListResponse}},
		{"totalResults", total},
		{"itemsPerPage", len(resources)},
		{"startIndex", startIndex},
		{"Resources", resources},
	}
}

// serveDiscovery answers GET /ServiceProviderConfig, /Schemas[/{urn}] and
// /ResourceTypes[/User].
func (h *handler) serveDiscovery(w http.ResponseWriter, r *http.Request, v *view, seg []string) *Error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, http.MethodGet)
	}
	base := baseURL(r)
	switch {
	case len(seg) == 1 && strings.EqualFold(seg[0], "ServiceProviderConfig"):
		writeJSON(w, http.StatusOK, v.serviceProviderConfig(base))
	case len(seg) == 1 && strings.EqualFold(seg[0], "ResourceTypes"):
		writeJSON(w, http.StatusOK, listResponse([]object{v.resourceType(base)}, 1, 1))
	case len(seg) == 2 && strings.EqualFold(seg[0], "ResourceTypes"):
		if !strings.EqualFold(seg[1], "User") {
			return notFound("no resource type %q: deprov serves User only", seg[1])
		}
		writeJSON(w, http.StatusOK, v.resourceType(base))
	case len(seg) == 1 && strings.EqualFold(seg[0], "Schemas"):
		docs := make([]object, 0, len(v.schemas))
		for _, s := range v.schemas {
			docs = append(docs, schemaDoc(s, base))
		}
		writeJSON(w, http.StatusOK, listResponse(docs, len(docs), 1))
	case len(seg) == 2 && strings.EqualFold(seg[0], "Schemas"):
		s := v.schema(seg[1])
		if s == nil {
			return notFound("no schema %q", seg[1])
		}
		writeJSON(w, http.StatusOK, schemaDoc(s, base))
	default:
		return notFound("no such endpoint")
	}
	return nil
}

// baseURL is the SCIM base URL as the client reached it, for meta.location.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if host == "" || strings.ContainsAny(host, "/\\ \"") {
		host = "localhost"
	}
	return scheme + "://" + host + prefix
}

func userLocation(base, id string) string { return base + "/Users/" + url.PathEscape(id) }

func methodNotAllowed(w http.ResponseWriter, allowed ...string) *Error {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	return errorf(http.StatusMethodNotAllowed, "", "method not allowed here (allowed: %s)", strings.Join(allowed, ", "))
}
