package scimsource

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// PATCH (RFC 7644 §3.5.2) works on the resource rebuilt from the stored
// identity. It takes what IdPs send besides the RFC's own forms: "Replace"
// capitalised and "False" for false (Azure AD), a value object without a
// path whose keys are attribute paths (Okta, Azure AD), a bare string for
// manager (Azure AD), and add/replace through a filter that matches no
// value (`emails[type eq "work"].value`), which adds the value.

type patchOp struct {
	op    string // add, replace or remove
	path  string
	value any
	// hasValue tells "value": null from no value.
	hasValue bool
}

// parsePatch reads a PatchOp request body.
func parsePatch(body map[string]any) ([]patchOp, *Error) {
	var ops []patchOp
	hasSchemas, hasOps := false, false
	for _, k := range sortedKeys(body) {
		val := body[k]
		switch {
		case strings.EqualFold(k, "schemas"):
			l, err := stringList(val)
			if err != nil || !slices.ContainsFunc(l, func(s string) bool { return strings.EqualFold(s, urnPatchOp) }) {
				return nil, badValue(`"schemas" must be [%q]`, urnPatchOp)
			}
			hasSchemas = true
		case strings.EqualFold(k, "Operations"):
			arr, ok := val.([]any)
			if !ok {
				return nil, badValue(`"Operations" must be an array, got %s`, describe(val))
			}
			hasOps = true
			for i, e := range arr {
				op, err := parseOp(i, e)
				if err != nil {
					return nil, err
				}
				ops = append(ops, op)
			}
		default:
			return nil, badSyntax("unknown member %q of a PatchOp request (schemas, Operations)", k)
		}
	}
	switch {
	case !hasSchemas:
		return nil, badValue(`"schemas" is required: send "schemas": [%q]`, urnPatchOp)
	case !hasOps || len(ops) == 0:
		return nil, badValue(`"Operations" is required and must not be empty`)
	}
	return ops, nil
}

func parseOp(i int, e any) (patchOp, *Error) {
	m, ok := e.(map[string]any)
	if !ok {
		return patchOp{}, badValue("Operations[%d] must be an object, got %s", i, describe(e))
	}
	var op patchOp
	for _, k := range sortedKeys(m) {
		switch strings.ToLower(k) {
		case "op":
			s, _ := m[k].(string)
			op.op = strings.ToLower(s)
			if op.op != "add" && op.op != "replace" && op.op != "remove" {
				return patchOp{}, badValue(`Operations[%d].op must be "add", "replace" or "remove", got %s`, i, describe(m[k]))
			}
		case "path":
			s, ok := m[k].(string)
			if !ok && m[k] != nil {
				return patchOp{}, badValue("Operations[%d].path must be a string, got %s", i, describe(m[k]))
			}
			op.path = strings.TrimSpace(s)
		case "value":
			op.value, op.hasValue = m[k], true
		default:
			return patchOp{}, badSyntax("unknown member %q of Operations[%d] (op, path, value)", k, i)
		}
	}
	if op.op == "" {
		return patchOp{}, badValue(`Operations[%d].op is required ("add", "replace" or "remove")`, i)
	}
	if op.op != "remove" && !op.hasValue {
		return patchOp{}, badValue("Operations[%d] (%s) needs a value", i, op.op)
	}
	return op, nil
}

// patcher applies operations to one resource.
type patcher struct {
	v   *view
	res resource
	// touched holds "urn:name" (lower case) of every attribute an
	// operation changed, and "urn:*" for a whole extension.
	touched map[string]bool
}

func touchKey(s *schema, name string) string { return strings.ToLower(s.id + ":" + name) }

// touchedAttr says whether an operation changed the attribute r names.
func (p *patcher) touchedAttr(s *schema, name string) bool {
	return p.touched[touchKey(s, name)] || p.touched[touchKey(s, "*")]
}

func (p *patcher) apply(i int, op patchOp) *Error {
	if err := p.applyOp(op); err != nil {
		err.Detail = fmt.Sprintf("Operations[%d] (%s%s): %s", i, op.op, quotedPath(op.path), err.Detail)
		return err
	}
	return nil
}

func quotedPath(p string) string {
	if p == "" {
		return ""
	}
	return " " + fmt.Sprintf("%q", p)
}

func (p *patcher) applyOp(op patchOp) *Error {
	if op.path != "" {
		pp, err := p.v.parsePath(op.path)
		if err != nil {
			return err
		}
		return p.applyPath(op.op, pp, op.value)
	}
	if op.op == "remove" {
		return errorf(http.StatusBadRequest, NoTarget, "remove needs a path")
	}
	obj, ok := op.value.(map[string]any)
	if !ok {
		return badValue("without a path the value must be an object of attributes, got %s", describe(op.value))
	}
	for _, k := range sortedKeys(obj) {
		if strings.EqualFold(k, "schemas") || strings.EqualFold(k, "id") || strings.EqualFold(k, "meta") {
			continue // the resource's envelope, as some clients echo it
		}
		var pp *path
		if s := p.v.schema(k); s != nil {
			pp = &path{schema: s, raw: k, whole: true}
		} else {
			var err *Error
			if pp, err = p.v.parsePath(k); err != nil {
				if err.Type == InvalidPath {
					err.Type = InvalidSyntax
				}
				return err
			}
		}
		if err := p.applyPath(op.op, pp, obj[k]); err != nil {
			return err
		}
	}
	return nil
}

// path is a parsed PATCH path: attr[filter].subAfter, attr.sub, or a
// whole extension.
type path struct {
	schema *schema
	attr   *attr
	raw    string
	// name is the attribute's path in messages.
	name   string
	sub    *attr
	filter filter.Expression
	whole  bool
}

func (v *view) parsePath(raw string) (pp *path, e *Error) {
	if s := v.schema(raw); s != nil {
		return &path{schema: s, raw: raw, whole: true}, nil
	}
	defer func() {
		// The parser is third-party code fed with client input.
		if r := recover(); r != nil {
			pp, e = nil, errorf(http.StatusBadRequest, InvalidPath, "invalid path %q", raw)
		}
	}()
	fp, err := filter.ParsePath([]byte(raw))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, InvalidPath, "invalid path %q: %v", raw, err)
	}
	s := v.schemas[0]
	if uri := fp.AttributePath.URI(); uri != "" {
		if s = v.schema(uri); s == nil {
			return nil, errorf(http.StatusBadRequest, InvalidPath, "invalid path %q: unknown schema %q", raw, uri)
		}
	}
	a, name, lerr := v.lookup(s, fp.AttributePath.AttributeName)
	if lerr != nil {
		lerr.Type = InvalidPath
		return nil, lerr
	}
	pp = &path{schema: s, attr: a, raw: raw, name: name, filter: fp.ValueExpression}
	sub := fp.AttributePath.SubAttributeName()
	if fp.SubAttribute != nil {
		sub = *fp.SubAttribute
	}
	if sub != "" {
		if a.typ != tComplex {
			return nil, errorf(http.StatusBadRequest, InvalidPath, "invalid path %q: %q has no sub-attributes", raw, name)
		}
		if pp.sub = a.find(sub); pp.sub == nil {
			return nil, errorf(http.StatusBadRequest, InvalidPath, "invalid path %q: %q has no sub-attribute %q", raw, name, sub)
		}
	}
	if pp.filter != nil && !a.multi {
		return nil, errorf(http.StatusBadRequest, InvalidPath, "invalid path %q: a filter needs a multi-valued attribute", raw)
	}
	if a.readOnly() || (pp.sub != nil && pp.sub.readOnly()) {
		return nil, errorf(http.StatusBadRequest, Mutability, "%q is read-only", raw)
	}
	return pp, nil
}

func (p *patcher) applyPath(op string, pp *path, value any) *Error {
	if pp.whole {
		return p.applyWhole(op, pp.schema, value)
	}
	p.touched[touchKey(pp.schema, pp.attr.name)] = true
	c := p.res.container(pp.schema, op != "remove")
	if c == nil {
		return nil // removing from an extension the user does not have
	}
	key := canonicalKey(c, pp.attr)
	defer func() {
		if pp.schema.id != URNUser && len(c) == 0 {
			delete(p.res, pp.schema.id)
		}
	}()
	switch {
	case pp.filter != nil:
		return p.applyFiltered(op, pp, c, key, value)
	case pp.sub != nil && pp.attr.multi:
		return p.applySubAll(op, pp, c, key, value)
	case pp.sub != nil:
		m, _ := c[key].(map[string]any)
		if op == "remove" {
			delete(m, pp.sub.name)
		} else {
			nv, err := normalizeOne(pp.sub, value, pp.name+"."+pp.sub.name)
			if err != nil {
				return err
			}
			if m == nil {
				m = map[string]any{}
			}
			setOrDelete(m, pp.sub.name, nv)
		}
		setOrDelete(c, key, nonEmpty(m))
		return nil
	}
	a := pp.attr
	if op == "remove" {
		if a.multi && value != nil {
			return p.removeValues(pp, c, key, value)
		}
		delete(c, key)
		return nil
	}
	if s, ok := value.(string); ok && a.typ == tComplex && !a.multi && a.find("value") != nil {
		value = map[string]any{"value": s} // Azure AD's manager
	}
	if a.multi {
		if obj, ok := value.(map[string]any); ok {
			value = []any{obj}
		}
		nv, err := normalize(a, value, pp.name)
		if err != nil {
			return err
		}
		added, _ := nv.([]any)
		if op == "replace" {
			setOrDelete(c, key, nv)
			return nil
		}
		old, _ := c[key].([]any)
		if slices.ContainsFunc(added, isPrimary) {
			clearPrimary(old)
		}
		for _, e := range added {
			if !slices.ContainsFunc(old, func(o any) bool { return reflect.DeepEqual(o, e) }) {
				old = append(old, e)
			}
		}
		setOrDelete(c, key, nonEmptySlice(old))
		return nil
	}
	nv, err := normalizeOne(a, value, pp.name)
	if err != nil {
		return err
	}
	if a.typ == tComplex && nv != nil {
		// Sub-attributes not given are left as they are (§3.5.2.1, §3.5.2.3).
		m, _ := c[key].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		for k, sv := range nv.(map[string]any) {
			m[k] = sv
		}
		nv = m
	}
	setOrDelete(c, key, nv)
	return nil
}

// applyWhole adds, replaces or removes an extension's attributes.
func (p *patcher) applyWhole(op string, s *schema, value any) *Error {
	if op == "remove" {
		if s.id == URNUser {
			return errorf(http.StatusBadRequest, Mutability, "the User itself cannot be removed; use DELETE")
		}
		p.touched[touchKey(s, "*")] = true
		delete(p.res, s.id)
		return nil
	}
	obj, ok := value.(map[string]any)
	if !ok {
		return badValue("%q needs an object of its attributes as the value, got %s", s.id, describe(value))
	}
	for _, k := range sortedKeys(obj) {
		a, name, err := p.v.lookup(s, k)
		if err != nil {
			return err
		}
		if a.readOnly() {
			continue
		}
		if err := p.applyPath(op, &path{schema: s, attr: a, raw: name, name: name}, obj[k]); err != nil {
			return err
		}
	}
	return nil
}

// applySubAll sets or removes a sub-attribute of every value of a
// multi-valued attribute ("emails.type").
func (p *patcher) applySubAll(op string, pp *path, c map[string]any, key string, value any) *Error {
	arr, _ := c[key].([]any)
	var nv any
	if op != "remove" {
		var err *Error
		if nv, err = normalizeOne(pp.sub, value, pp.name+"."+pp.sub.name); err != nil {
			return err
		}
		if len(arr) == 0 && nv != nil {
			arr = []any{map[string]any{}}
		}
	}
	out := arr[:0]
	for _, e := range arr {
		m := e.(map[string]any)
		setOrDelete(m, pp.sub.name, nv)
		if len(m) > 0 {
			out = append(out, m)
		}
	}
	setOrDelete(c, key, nonEmptySlice(out))
	return nil
}

// applyFiltered works on the values a filter selects: attr[filter] or
// attr[filter].sub.
func (p *patcher) applyFiltered(op string, pp *path, c map[string]any, key string, value any) *Error {
	arr, _ := c[key].([]any)
	var hit []int
	for i, e := range arr {
		ok, err := evalFilter(pp.filter, e.(map[string]any), pp.attr)
		if err != nil {
			return err
		}
		if ok {
			hit = append(hit, i)
		}
	}
	if op == "remove" {
		out := make([]any, 0, len(arr))
		for i, e := range arr {
			if slices.Contains(hit, i) {
				if pp.sub == nil {
					continue
				}
				m := e.(map[string]any)
				delete(m, pp.sub.name)
				if len(m) == 0 {
					continue
				}
			}
			out = append(out, e)
		}
		setOrDelete(c, key, nonEmptySlice(out))
		return nil
	}
	if len(hit) == 0 {
		seed, ok := seedFrom(pp.filter, pp.attr)
		if !ok {
			return errorf(http.StatusBadRequest, NoTarget, "no value of %q matches the filter", pp.name)
		}
		arr = append(arr, seed)
		hit = []int{len(arr) - 1}
	}
	var set map[string]any
	if pp.sub != nil {
		nv, err := normalizeOne(pp.sub, value, pp.name+"."+pp.sub.name)
		if err != nil {
			return err
		}
		set = map[string]any{pp.sub.name: nv}
	} else {
		nv, err := normalizeOne(pp.attr, value, pp.name)
		if err != nil {
			return err
		}
		set, _ = nv.(map[string]any)
	}
	if set["primary"] == true {
		clearPrimary(arr)
	}
	for _, i := range hit {
		m := arr[i].(map[string]any)
		for k, sv := range set {
			setOrDelete(m, k, sv)
		}
	}
	setOrDelete(c, key, nonEmptySlice(arr))
	return nil
}

// removeValues removes the given values from a multi-valued attribute,
// matching on their "value" (as Azure AD removes members and emails).
func (p *patcher) removeValues(pp *path, c map[string]any, key string, value any) *Error {
	if obj, ok := value.(map[string]any); ok {
		value = []any{obj}
	}
	nv, err := normalize(pp.attr, value, pp.name)
	if err != nil {
		return err
	}
	gone, _ := nv.([]any)
	arr, _ := c[key].([]any)
	out := make([]any, 0, len(arr))
	for _, e := range arr {
		if !slices.ContainsFunc(gone, func(g any) bool { return sameValue(e, g) }) {
			out = append(out, e)
		}
	}
	setOrDelete(c, key, nonEmptySlice(out))
	return nil
}

func sameValue(a, b any) bool {
	am, _ := a.(map[string]any)
	bm, _ := b.(map[string]any)
	av, aok := am["value"].(string)
	bv, bok := bm["value"].(string)
	if aok && bok {
		return strings.EqualFold(av, bv)
	}
	return reflect.DeepEqual(a, b)
}

func isPrimary(e any) bool {
	m, _ := e.(map[string]any)
	return m["primary"] == true
}

func clearPrimary(arr []any) {
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok {
			delete(m, "primary")
		}
	}
}

func setOrDelete(m map[string]any, k string, v any) {
	if m == nil {
		return
	}
	if v == nil {
		delete(m, k)
		return
	}
	m[k] = v
}

func nonEmpty(m map[string]any) any {
	if len(m) == 0 {
		return nil
	}
	return m
}

func nonEmptySlice(s []any) any {
	if len(s) == 0 {
		return nil
	}
	return s
}
