package scimsource

import (
	"cmp"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

// Paging of GET /Users (RFC 7644 §3.4.2.4).
const (
	defaultCount = 100
	maxCount     = 1000
)

// listQuery is a parsed GET /Users.
type listQuery struct {
	q          store.IdentityQuery
	startIndex int
	count      int
	// none says the filter can match nothing (id eq "a" and id eq "b").
	none bool
	// externalID is the SCIM externalId the filter asks for, which a
	// result must show (the store filters on the id).
	externalID string
}

// parseList reads filter, startIndex and count.
func parseList(vals url.Values) (listQuery, *Error) {
	lq := listQuery{startIndex: 1, count: defaultCount}
	for _, name := range []string{"startIndex", "count"} {
		raw := strings.TrimSpace(vals.Get(name))
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil {
			return listQuery{}, badValue("%s must be an integer, got %q", name, clip(raw))
		}
		if name == "startIndex" {
			lq.startIndex = max(n, 1) // "less than 1 SHALL be interpreted as 1"
		} else {
			lq.count = min(max(n, 0), maxCount) // negative is 0; above the maximum is the maximum
		}
	}
	if f := strings.TrimSpace(vals.Get("filter")); f != "" {
		if err := lq.parseFilter(f); err != nil {
			return listQuery{}, err
		}
	}
	return lq, nil
}

const supportedFilters = `userName eq "…", externalId eq "…" or id eq "…", optionally joined with "and"`

func (lq *listQuery) parseFilter(raw string) (e *Error) {
	defer func() {
		// The parser is third-party code fed with client input.
		if r := recover(); r != nil {
			e = errorf(http.StatusBadRequest, InvalidFilter, "filter %q cannot be parsed", clip(raw))
		}
	}()
	expr, err := filter.ParseFilter([]byte(raw))
	if err != nil {
		return errorf(http.StatusBadRequest, InvalidFilter, "filter %q is not a valid SCIM filter (RFC 7644 §3.4.2.2): %v", clip(raw), err)
	}
	return lq.addTerm(raw, expr)
}

func (lq *listQuery) addTerm(raw string, expr filter.Expression) *Error {
	unsupported := func(why string) *Error {
		return errorf(http.StatusBadRequest, InvalidFilter, "filter %q: %s; deprov supports %s", clip(raw), why, supportedFilters)
	}
	switch x := expr.(type) {
	case *filter.LogicalExpression:
		if !strings.EqualFold(string(x.Operator), string(filter.AND)) {
			return unsupported(`"or" is not supported`)
		}
		if err := lq.addTerm(raw, x.Left); err != nil {
			return err
		}
		return lq.addTerm(raw, x.Right)
	case *filter.AttributeExpression:
		ap := x.AttributePath
		if ap.URIPrefix != nil && !strings.EqualFold(*ap.URIPrefix, URNUser) || ap.SubAttribute != nil {
			return unsupported("attribute " + strconv.Quote(ap.String()) + " cannot be filtered on")
		}
		if !strings.EqualFold(string(x.Operator), string(filter.EQ)) {
			return unsupported("operator " + strconv.Quote(string(x.Operator)) + " is not supported")
		}
		s, ok := x.CompareValue.(string)
		if !ok {
			return unsupported("the value must be a string")
		}
		s = unescape(s)
		switch {
		case strings.EqualFold(ap.AttributeName, "userName"):
			lq.none = lq.none || lq.q.UserName != "" && !strings.EqualFold(lq.q.UserName, s)
			lq.q.UserName = s
		case strings.EqualFold(ap.AttributeName, "id"):
			lq.none = lq.none || lq.q.ExternalID != "" && lq.q.ExternalID != s
			lq.q.ExternalID = s
		case strings.EqualFold(ap.AttributeName, "externalId"):
			lq.none = lq.none || lq.externalID != "" && lq.externalID != s
			lq.externalID = s
		default:
			return unsupported("attribute " + strconv.Quote(ap.AttributeName) + " cannot be filtered on")
		}
		return nil
	}
	return unsupported("only comparisons are supported")
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, v *view) *Error {
	lq, err := parseList(r.URL.Query())
	if err != nil {
		return err
	}
	q := lq.q
	q.SourceID = v.source.ID
	q.HideStatus = v.deletedStatus
	q.Offset, q.Limit = lq.startIndex-1, max(lq.count, 1)
	if lq.externalID != "" {
		// At most one identity has this id; its SCIM externalId is checked
		// here and the page cut from the result.
		if q.ExternalID == "" {
			q.ExternalID = lq.externalID
		}
		q.Offset, q.Limit = 0, 1
	}
	var page []identity.Identity
	total := 0
	if !lq.none {
		ids, n, serr := h.sink.ListIdentities(r.Context(), v.source.ID, q)
		if serr != nil {
			return h.sinkError("list identities", serr)
		}
		page, total = ids, n
	}
	if lq.externalID != "" {
		var keep []identity.Identity
		for _, idn := range page {
			if x := cmp.Or(idn.Attributes[attrExternalID], idn.ExternalID); x == lq.externalID && !v.deleted(idn) {
				keep = append(keep, idn)
			}
		}
		total = len(keep)
		page = keep[min(lq.startIndex-1, len(keep)):]
	}
	if lq.count == 0 {
		page = nil // count=0 asks for totalResults only
	}
	base := baseURL(r)
	out := make([]object, 0, len(page))
	for _, idn := range page {
		if v.deleted(idn) {
			continue // a Sink that ignores HideStatus still hides none here
		}
		res, _ := v.toResource(idn)
		out = append(out, v.render(res, idn.ExternalID, idn.UpdatedAt, base))
	}
	writeJSON(w, http.StatusOK, listResponse(out, total, lq.startIndex))
	return nil
}
