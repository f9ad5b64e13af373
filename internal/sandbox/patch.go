package sandbox

import (
	"maps"
	"reflect"
	"slices"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	scimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"
)

// applyPatch applies ops in order to a copy of attrs and returns the copy. The library has parsed
// and type-checked every operation; applying it to the stored resource is the handler's job. On
// error attrs is untouched, so a PATCH is all or nothing (RFC 7644 section 3.5.2).
func applyPatch(s schema.Schema, attrs map[string]any, ops []scim.PatchOperation) (map[string]any, error) {
	next := copyAttrs(attrs)
	for _, op := range ops {
		if op.Path != nil {
			if err := applyAt(s, next, op.Op, *op.Path, op.Value); err != nil {
				return nil, err
			}
			continue
		}
		// No path: the value is a map of attribute paths to values, each applied at its path.
		values, ok := op.Value.(map[string]any)
		if !ok {
			return nil, scimError(scimerrors.ScimErrorInvalidValue, "An operation without a path needs an object value.")
		}
		// Sorted, so that "name" lands before "name.givenName".
		for _, key := range slices.Sorted(maps.Keys(values)) {
			p, err := filter.ParsePath([]byte(key))
			if err != nil {
				return nil, scimError(scimerrors.ScimErrorInvalidPath, "%q is not an attribute path.", key)
			}
			if err := applyAt(s, next, op.Op, p, values[key]); err != nil {
				return nil, err
			}
		}
	}
	return next, nil
}

// applyAt applies one operation at one path (RFC 7644 sections 3.5.2.1 to 3.5.2.3).
func applyAt(s schema.Schema, res map[string]any, op string, p filter.Path, value any) error {
	attr, ok := s.Attributes.ContainsAttribute(p.AttributePath.AttributeName)
	if !ok {
		return scimError(scimerrors.ScimErrorInvalidPath, "No attribute %q.", p.AttributePath.AttributeName)
	}
	if attr.Mutability() == "readOnly" {
		return scimError(scimerrors.ScimErrorMutability, "%s is read-only.", attr.Name())
	}
	name := attr.Name()
	sub := p.AttributePath.SubAttributeName() // name.givenName
	if sub == "" {
		sub = p.SubAttributeName() // emails[type eq "work"].value
	}
	if sub != "" {
		sa, ok := attr.SubAttributes().ContainsAttribute(sub)
		if !ok {
			return scimError(scimerrors.ScimErrorInvalidPath, "No sub-attribute %q in %s.", sub, name)
		}
		sub = sa.Name()
	}

	switch {
	case p.ValueExpression != nil:
		if !attr.MultiValued() {
			return scimError(scimerrors.ScimErrorInvalidPath, "%s is not multi-valued; it takes no filter.", name)
		}
		return applyFiltered(res, attr, op, p.ValueExpression, sub, value)
	case !attr.MultiValued():
		applySingular(res, attr, op, sub, value)
		return nil
	default:
		return applyMulti(res, name, op, sub, value)
	}
}

// applyFiltered handles paths such as members[value eq "ID"] and emails[type eq "work"].value.
func applyFiltered(res map[string]any, attr schema.CoreAttribute, op string, expr filter.Expression, sub string, value any) error {
	name := attr.Name()
	matcher := scimfilter.NewFilterValidator(expr, schema.Schema{Attributes: scimfilter.MultiValuedFilterAttributes(attr)})
	list := asList(res[name])
	matched := false
	kept := list[:0]
	for _, el := range list {
		m, isMap := el.(map[string]any)
		if !isMap || !passes(matcher, m) {
			kept = append(kept, el)
			continue
		}
		matched = true
		switch {
		case op == scim.PatchOperationRemove && sub == "":
			continue // drop the element
		case op == scim.PatchOperationRemove:
			delete(m, sub)
		case sub == "":
			if v, ok := value.(map[string]any); ok {
				el = v
			}
		default:
			m[sub] = value
		}
		kept = append(kept, el)
	}
	// Removing what is not there is success: the caller's intent already holds. Changing what is
	// not there has nothing to act on.
	if !matched && op != scim.PatchOperationRemove {
		return scimError(scimerrors.ScimErrorNoTarget, "No value of %s matches %s.", name, expr)
	}
	setList(res, name, kept)
	return nil
}

func applySingular(res map[string]any, attr schema.CoreAttribute, op, sub string, value any) {
	name := attr.Name()
	switch {
	case op == scim.PatchOperationRemove && sub == "":
		delete(res, name)
	case op == scim.PatchOperationRemove:
		if m, ok := res[name].(map[string]any); ok {
			delete(m, sub)
			if len(m) == 0 {
				delete(res, name)
			}
		}
	case sub != "":
		m, ok := res[name].(map[string]any)
		if !ok {
			m = map[string]any{}
			res[name] = m
		}
		m[sub] = value
	case attr.AttributeType() == "complex":
		// add and replace of a complex attribute both merge: sub-attributes not given are left
		// unchanged.
		m, ok := res[name].(map[string]any)
		if !ok {
			m = map[string]any{}
			res[name] = m
		}
		if v, ok := value.(map[string]any); ok {
			maps.Copy(m, v)
		}
	default:
		res[name] = value
	}
}

func applyMulti(res map[string]any, name, op, sub string, value any) error {
	if sub != "" && op != scim.PatchOperationRemove {
		return scimError(scimerrors.ScimErrorInvalidPath, "Select the values of %s to change with a filter, e.g. %s[value eq \"x\"].%s.", name, name, sub)
	}
	list := asList(res[name])
	values := asList(value)
	switch op {
	case scim.PatchOperationRemove:
		switch {
		case sub != "":
			for _, el := range list {
				if m, ok := el.(map[string]any); ok {
					delete(m, sub)
				}
			}
		case value == nil:
			list = nil
		default:
			// Some clients (Azure AD among them) name the values to remove in "value" rather
			// than in a path filter.
			list = slices.DeleteFunc(list, func(el any) bool {
				return slices.ContainsFunc(values, func(v any) bool { return sameValue(el, v) })
			})
		}
	case scim.PatchOperationAdd:
		for _, v := range values {
			if !slices.ContainsFunc(list, func(el any) bool { return sameValue(el, v) }) {
				list = append(list, v)
			}
		}
	default: // replace
		list = values
	}
	setList(res, name, list)
	return nil
}

// sameValue reports whether two values of a multi-valued attribute are the same value: for
// complex values with a "value" sub-attribute (members, emails) that decides, else equality.
func sameValue(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		if av, ok := am["value"]; ok {
			return reflect.DeepEqual(av, bm["value"])
		}
	}
	return reflect.DeepEqual(a, b)
}

func asList(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case nil:
		return nil
	default:
		return []any{v}
	}
}

// setList stores a multi-valued attribute, leaving it out when empty: RFC 7643 section 2.5 treats
// an empty list as unassigned.
func setList(res map[string]any, name string, list []any) {
	if len(list) == 0 {
		delete(res, name)
		return
	}
	res[name] = list
}
