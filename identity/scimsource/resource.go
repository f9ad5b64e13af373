package scimsource

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// resource is a User as deprov checked it: core attributes and externalId
// at the top under their canonical names, each extension's attributes in
// a map under its URN. Values are string, bool, map[string]any (complex)
// and []any of map[string]any (multi-valued); unassigned attributes are
// absent.
type resource map[string]any

// container is where s's attributes live in r; created when create is set.
func (r resource) container(s *schema, create bool) map[string]any {
	if s.id == URNUser {
		return r
	}
	m, ok := r[s.id].(map[string]any)
	if !ok && create {
		m = map[string]any{}
		r[s.id] = m
	}
	return m
}

// decodeObject reads a request body that must be one JSON object.
func decodeObject(b []byte) (map[string]any, *Error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, badSyntax("the request body is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, badSyntax("invalid JSON at byte offset %d: %s", se.Offset, se.Error())
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, badSyntax("invalid JSON at byte offset %d: unexpected end of input", len(b))
		}
		return nil, badSyntax("invalid JSON: %s", err.Error())
	}
	if dec.More() {
		return nil, badSyntax("invalid JSON at byte offset %d: unexpected data after the top-level object", dec.InputOffset())
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, badSyntax("invalid JSON at byte offset %d: unexpected data after the top-level object", dec.InputOffset())
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badSyntax("the request body must be a JSON object, got %s", describe(v))
	}
	return m, nil
}

// parseUser checks a User sent with POST or PUT against the view's
// schemas. Read-only attributes (id, meta, groups) are ignored, as RFC
// 7643 §2.2 asks; password is checked and dropped.
func (v *view) parseUser(body map[string]any) (resource, *Error) {
	res := resource{}
	var listed []string
	hasSchemas := false
	seen := map[string]string{}
	for _, k := range sortedKeys(body) {
		val := body[k]
		if prev, dup := seen[strings.ToLower(k)]; dup {
			return nil, badSyntax("attribute %q is given twice (as %q and %q; attribute names are case-insensitive)", k, prev, k)
		}
		seen[strings.ToLower(k)] = k
		switch {
		case strings.EqualFold(k, "schemas"):
			l, err := stringList(val)
			if err != nil {
				return nil, badValue(`"schemas" must be an array of schema URNs, got %s`, describe(val))
			}
			listed, hasSchemas = l, true
		case strings.EqualFold(k, "id"), strings.EqualFold(k, "meta"):
			// read-only: ignored
		case hasURNPrefix(k):
			s := v.schema(k)
			if s == nil {
				return nil, badSyntax("unknown attribute %q: not an attribute of the User schema nor a schema extension this source declares", k)
			}
			obj, ok := val.(map[string]any)
			if !ok {
				if val == nil {
					continue
				}
				return nil, badValue("%q must be an object holding the extension's attributes, got %s", k, describe(val))
			}
			for _, sk := range sortedKeys(obj) {
				if err := v.set(res, s, sk, obj[sk]); err != nil {
					return nil, err
				}
			}
		default:
			if err := v.set(res, v.schemas[0], k, val); err != nil {
				return nil, err
			}
		}
	}
	if !hasSchemas {
		return nil, badValue(`"schemas" is required: send "schemas": [%q]`, URNUser)
	}
	if !slices.ContainsFunc(listed, func(s string) bool { return strings.EqualFold(s, URNUser) }) {
		return nil, badValue(`"schemas" must include %q`, URNUser)
	}
	for _, u := range listed {
		if v.schema(u) == nil {
			return nil, badValue(`unknown schema %q in "schemas": this source knows %s`, u, strings.Join(v.schemaIDs(), ", "))
		}
	}
	for _, s := range v.extensions() {
		if len(res.container(s, false)) > 0 && !slices.ContainsFunc(listed, func(u string) bool { return strings.EqualFold(u, s.id) }) {
			return nil, badValue(`attributes of %q are sent but "schemas" does not list it`, s.id)
		}
	}
	return res, nil
}

func (v *view) schemaIDs() []string {
	ids := make([]string, len(v.schemas))
	for i, s := range v.schemas {
		ids[i] = s.id
	}
	return ids
}

// set checks one attribute of schema s and stores it in res.
func (v *view) set(res resource, s *schema, name string, val any) *Error {
	a, path, err := v.lookup(s, name)
	if err != nil {
		return err
	}
	if a.readOnly() {
		return nil
	}
	nv, err := normalize(a, val, path)
	if err != nil {
		return err
	}
	c := res.container(s, true)
	key := canonicalKey(c, a)
	if _, dup := c[key]; dup {
		return badSyntax("attribute %q is given twice", path)
	}
	if nv == nil || a.mutability == "writeOnly" {
		// Unassigned, or a password: deprov never keeps one.
		if s.id != URNUser && len(c) == 0 {
			delete(res, s.id)
		}
		return nil
	}
	c[key] = nv
	return nil
}

// lookup finds an attribute of s (or a common one, for core) and the path
// that names it in messages.
func (v *view) lookup(s *schema, name string) (*attr, string, *Error) {
	path := name
	if s.id != URNUser {
		path = s.id + ":" + name
	}
	if s.id == URNUser {
		if a := findAttr(common, name); a != nil {
			return a, a.name, nil
		}
	}
	a := s.find(name)
	if a == nil {
		if s.id == URNUser && v.schema(URNEnterprise).find(name) != nil {
			return nil, "", badSyntax("unknown attribute %q: it is an attribute of the enterprise extension; send it inside %q", name, URNEnterprise)
		}
		return nil, "", badSyntax("unknown attribute %q: not an attribute of the %s schema (%s)", path, s.name, s.id)
	}
	return a, path, nil
}

// canonicalKey is the key a's value has in container c: its canonical
// name, or, for an open extension's attribute, the spelling already there.
func canonicalKey(c map[string]any, a *attr) string {
	if a.anyScalar {
		for k := range c {
			if strings.EqualFold(k, a.name) {
				return k
			}
		}
	}
	return a.name
}

// normalize checks val against a: nil means unassigned.
func normalize(a *attr, val any, path string) (any, *Error) {
	if val == nil {
		return nil, nil
	}
	if !a.multi {
		return normalizeOne(a, val, path)
	}
	arr, ok := val.([]any)
	if !ok {
		return nil, badValue("%q must be an array, got %s", path, describe(val))
	}
	out := make([]any, 0, len(arr))
	primaries := 0
	for i, e := range arr {
		ne, err := normalizeOne(a, e, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		if ne == nil {
			continue
		}
		if m, ok := ne.(map[string]any); ok && m["primary"] == true {
			primaries++
		}
		out = append(out, ne)
	}
	if primaries > 1 {
		return nil, badValue("%q: at most one value may have \"primary\": true", path)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// normalizeOne checks one value (an element, for a multi-valued attribute).
func normalizeOne(a *attr, val any, path string) (any, *Error) {
	if val == nil {
		return nil, nil
	}
	switch a.typ {
	case tComplex:
		m, ok := val.(map[string]any)
		if !ok {
			return nil, badValue("%q must be an object, got %s", path, describe(val))
		}
		out := map[string]any{}
		for _, k := range sortedKeys(m) {
			sa := a.find(k)
			if sa == nil {
				return nil, badSyntax("unknown attribute %q: %q has no sub-attribute %q", path+"."+k, path, k)
			}
			if sa.readOnly() {
				continue
			}
			if _, dup := out[sa.name]; dup {
				return nil, badSyntax("attribute %q is given twice", path+"."+sa.name)
			}
			nv, err := normalizeOne(sa, m[k], path+"."+sa.name)
			if err != nil {
				return nil, err
			}
			if nv != nil {
				out[sa.name] = nv
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	case tBoolean:
		switch b := val.(type) {
		case bool:
			return b, nil
		case string:
			// Azure AD sends "True" and "False".
			if strings.EqualFold(b, "true") {
				return true, nil
			}
			if strings.EqualFold(b, "false") {
				return false, nil
			}
		}
		return nil, badValue("%q must be a boolean (true or false), got %s", path, describe(val))
	default:
		switch s := val.(type) {
		case string:
			if s == "" {
				return nil, nil
			}
			return s, nil
		case bool:
			if a.anyScalar {
				return strconv.FormatBool(s), nil
			}
		case json.Number:
			if a.anyScalar {
				return s.String(), nil
			}
		}
		if a.anyScalar {
			return nil, badValue("%q must be a string, number or boolean (deprov keeps extension attributes as text), got %s", path, describe(val))
		}
		if a.mutability == "writeOnly" {
			return nil, badValue("%q must be a string", path) // a password is not echoed
		}
		return nil, badValue("%q must be a string, got %s", path, describe(val))
	}
}

// describe names a JSON value's type (and a short value) for messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case json.Number:
		return "number " + clip(x.String())
	case string:
		return "string " + strconv.Quote(clip(x))
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func stringList(v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, errors.New("not an array")
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, errors.New("not a string")
		}
		out = append(out, s)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
