package scimsource

import (
	"encoding/json"
	"net/http"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// Value filters in PATCH paths (`emails[type eq "work"]`, RFC 7644
// §3.5.2), evaluated against one value of a multi-valued attribute.

// evalFilter evaluates a value filter against one value of a.
func evalFilter(e filter.Expression, elem map[string]any, a *attr) (bool, *Error) {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		l, err := evalFilter(x.Left, elem, a)
		if err != nil {
			return false, err
		}
		r, err := evalFilter(x.Right, elem, a)
		if err != nil {
			return false, err
		}
		if x.Operator == filter.AND {
			return l && r, nil
		}
		return l || r, nil
	case *filter.NotExpression:
		ok, err := evalFilter(x.Expression, elem, a)
		return !ok, err
	case *filter.AttributeExpression:
		sa, cv, err := filterOperand(x, a)
		if err != nil {
			return false, err
		}
		got, present := elem[sa.name]
		op := filter.CompareOperator(strings.ToLower(string(x.Operator)))
		if op == filter.PR {
			return present, nil
		}
		switch g := got.(type) {
		case bool:
			b, ok := cv.(bool)
			switch op {
			case filter.EQ:
				return ok && g == b, nil
			case filter.NE:
				return !ok || g != b, nil
			}
			return false, nil
		case string:
			s, ok := cv.(string)
			if !ok {
				return op == filter.NE, nil
			}
			if !sa.caseExact {
				g, s = strings.ToLower(g), strings.ToLower(s)
			}
			switch op {
			case filter.EQ:
				return g == s, nil
			case filter.NE:
				return g != s, nil
			case filter.CO:
				return strings.Contains(g, s), nil
			case filter.SW:
				return strings.HasPrefix(g, s), nil
			case filter.EW:
				return strings.HasSuffix(g, s), nil
			case filter.GT:
				return g > s, nil
			case filter.GE:
				return g >= s, nil
			case filter.LT:
				return g < s, nil
			case filter.LE:
				return g <= s, nil
			}
		}
		return op == filter.NE, nil
	}
	return false, errorf(http.StatusBadRequest, InvalidFilter, "unsupported value filter %v", e)
}

// filterOperand resolves a value filter's sub-attribute and its comparison value.
func filterOperand(x *filter.AttributeExpression, a *attr) (*attr, any, *Error) {
	ap := x.AttributePath
	if ap.URIPrefix != nil || ap.SubAttribute != nil {
		return nil, nil, errorf(http.StatusBadRequest, InvalidFilter, "value filter on %q: name a sub-attribute of %q", ap.String(), a.name)
	}
	sa := a.find(ap.AttributeName)
	if sa == nil {
		return nil, nil, errorf(http.StatusBadRequest, InvalidFilter, "value filter: %q has no sub-attribute %q", a.name, ap.AttributeName)
	}
	cv := x.CompareValue
	if s, ok := cv.(string); ok {
		cv = unescape(s)
	}
	return sa, cv, nil
}

// unescape reads the escapes of a filter's string literal, which the
// parser leaves as they are.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return s
	}
	return out
}

// seedFrom makes the value that `attr[sub eq "x"]` would have matched, so
// that add and replace through such a filter create it.
func seedFrom(e filter.Expression, a *attr) (map[string]any, bool) {
	x, ok := e.(*filter.AttributeExpression)
	if !ok || !strings.EqualFold(string(x.Operator), string(filter.EQ)) {
		return nil, false
	}
	sa, cv, err := filterOperand(x, a)
	if err != nil || !sa.simple() {
		return nil, false
	}
	nv, verr := normalizeOne(sa, cv, a.name+"."+sa.name)
	if verr != nil || nv == nil {
		return nil, false
	}
	return map[string]any{sa.name: nv}, true
}
