package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
)

// auditData is the audit page's data.
type auditData struct {
	Rule, Identity, Action, From, To string
	Rules                            []config.Rule
	// Events are the page's events, newest first.
	Events []audit.Event
	// Older is the "before" cursor of the next older page (0: none).
	Older int64
	// Verified is the outcome of "verify chain", when asked.
	Verified *engine.VerifyResult
	Error    string
	// Export is the query of the evidence export with these filters.
	Export string
}

// auditPage is the latest events matching the filters, newest first.
const auditPage = 100

// auditActions are the action prefixes the filter suggests.
var auditActions = []string{"config.", "run.", "revocation.", "revocation.scheduled", "revocation.succeeded",
	"revocation.failed", "revocation.cancelled", "source.", "application.", "token."}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, v *view) {
	qs := r.URL.Query()
	d := auditData{Rule: qs.Get("rule"), Identity: qs.Get("identity"), Action: qs.Get("action"), From: qs.Get("from"), To: qs.Get("to")}
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	d.Rules = cfg.Rules
	q := store.AuditQuery{RuleID: d.Rule, IdentityID: d.Identity, Action: d.Action}
	var bad []string
	if q.From, err = parseDay(d.From); err != nil {
		bad = append(bad, "from: "+err.Error())
	}
	if q.To, err = parseDay(d.To); err != nil {
		bad = append(bad, "to: "+err.Error())
	} else if !q.To.IsZero() && len(d.To) == len(time.DateOnly) {
		// A date as "to" includes that whole day.
		q.To = q.To.AddDate(0, 0, 1)
	}
	ex := url.Values{"format": {"csv"}}
	for k, val := range map[string]string{"rule": d.Rule, "identity": d.Identity, "from": d.From, "to": d.To} {
		if val != "" && len(bad) == 0 {
			ex.Set(k, val)
		}
	}
	d.Export = ex.Encode()
	if len(bad) > 0 {
		d.Error = fmt.Sprint(bad)
	} else {
		before, _ := strconv.ParseInt(qs.Get("before"), 10, 64)
		if d.Events, d.Older, err = c.latestAudit(r.Context(), q, before); err != nil {
			c.failed(w, r, v, err)
			return
		}
	}
	if qs.Get("verify") != "" {
		res, err := c.e.VerifyAudit(r.Context())
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		d.Verified = &res
	}
	v.Title, v.Nav = "Audit log", "audit"
	c.render(w, http.StatusOK, "audit", v, struct {
		auditData
		Actions []string
	}{d, auditActions})
}

// parseDay reads a date (or RFC 3339 time) filter.
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2006-01-02)", s)
}

// latestAudit returns the newest auditPage events matching q whose
// position is before `before` (0: the newest of all), newest first, and
// the cursor of the page before them. The store pages forward from a
// position, so the page's start is found by a binary search over
// positions: O(log n) small queries instead of reading the whole chain.
func (c *Console) latestAudit(ctx context.Context, q store.AuditQuery, before int64) ([]audit.Event, int64, error) {
	// fits reports whether at least a page of events lies after k and
	// before `before`; it only turns from true to false as k grows.
	fits := func(k int64) (bool, error) {
		q.AfterSeq, q.Limit = k, auditPage
		evs, err := c.st.ListAudit(ctx, q)
		if err != nil {
			return false, err
		}
		return len(evs) == auditPage && (before == 0 || evs[len(evs)-1].Seq < before), nil
	}
	start := int64(0)
	ok, err := fits(0)
	if err != nil {
		return nil, 0, err
	}
	if ok {
		// The largest k that still fits, between lo (fits) and hi (does not).
		lo, hi := int64(0), before
		if hi == 0 {
			hi = 1
			for {
				f, err := fits(hi)
				if err != nil {
					return nil, 0, err
				}
				if !f {
					break
				}
				lo, hi = hi, hi*2
			}
		}
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			f, err := fits(mid)
			if err != nil {
				return nil, 0, err
			}
			if f {
				lo = mid
			} else {
				hi = mid
			}
		}
		start = lo
	}
	q.AfterSeq, q.Limit = start, auditPage
	evs, err := c.st.ListAudit(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	if before != 0 {
		evs = slices.DeleteFunc(evs, func(e audit.Event) bool { return e.Seq >= before })
	}
	var older int64
	if len(evs) > 0 {
		// Older events exist when the first matching event comes before the page.
		q.AfterSeq, q.Limit = 0, 1
		first, err := c.st.ListAudit(ctx, q)
		if err != nil {
			return nil, 0, err
		}
		if len(first) > 0 && first[0].Seq < evs[0].Seq {
			older = evs[0].Seq
		}
	}
	slices.Reverse(evs)
	return evs, older, nil
}
