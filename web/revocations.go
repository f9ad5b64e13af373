package web

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/store"
)

// revocationsData is the revocations page's data.
type revocationsData struct {
	Timeline  *timeline
	Scheduled []store.Revocation
	Running   []store.Revocation
	Waiting   []store.Revocation
	Failed    []store.Revocation
	Cancelled []store.Revocation
	Succeeded []store.Revocation
	// Instructions of manual applications, for their work items.
	Instructions map[string]string
	Rules        []config.Rule
	Applications []config.Application
	Rule, App    string
	// CancelledTotal and SucceededTotal count all of them (the page shows the latest).
	CancelledTotal, SucceededTotal int
}

// recentRows is how many finished revocations of each kind the page shows.
const recentRows = 25

func (c *Console) revocationsPage(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	d := revocationsData{Rule: q.Get("rule"), App: q.Get("application"), Instructions: map[string]string{}}
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	d.Rules, d.Applications = cfg.Rules, cfg.Applications
	graces := map[string]int{}
	for _, ru := range cfg.Rules {
		graces[ru.ID] = ru.GracePeriodDays
	}
	for _, a := range config.Redacted(cfg).Applications {
		if a.Connector.Type == "manual" {
			if s, ok := a.Connector.Settings["instructions"].(string); ok && s != config.RedactedValue {
				d.Instructions[a.ID] = s
			}
		}
	}
	list := func(q store.RevocationQuery) []store.Revocation {
		if err != nil {
			return nil
		}
		q.RuleID, q.ApplicationID = d.Rule, d.App
		var out []store.Revocation
		out, err = c.st.ListRevocations(r.Context(), q)
		return out
	}
	// Pending and failed revocations are shown whole; of the finished ones,
	// which grow without end, the latest and how many there are.
	d.Scheduled = list(store.RevocationQuery{States: []store.RevocationState{store.Scheduled}})
	d.Running = list(store.RevocationQuery{States: []store.RevocationState{store.Running}})
	d.Waiting = list(store.RevocationQuery{States: []store.RevocationState{store.Waiting}})
	d.Failed = list(store.RevocationQuery{States: []store.RevocationState{store.Failed}})
	d.Cancelled = list(store.RevocationQuery{States: []store.RevocationState{store.Cancelled}, LatestFirst: true, Limit: recentRows})
	d.Succeeded = list(store.RevocationQuery{States: []store.RevocationState{store.Succeeded}, LatestFirst: true, Limit: recentRows})
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	counts, err := c.st.CountRevocations(r.Context(), store.Cancelled, store.Succeeded)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	for _, n := range counts {
		if (d.Rule != "" && n.RuleID != d.Rule) || (d.App != "" && n.ApplicationID != d.App) {
			continue
		}
		if n.State == store.Cancelled {
			d.CancelledTotal += n.N
		} else {
			d.SucceededTotal += n.N
		}
	}
	slices.SortStableFunc(d.Scheduled, func(a, b store.Revocation) int { return cmp.Or(a.DueAt.Compare(b.DueAt), cmp.Compare(a.ID, b.ID)) })
	slices.Reverse(d.Failed)
	pending := append(append(append([]store.Revocation{}, d.Scheduled...), d.Running...), d.Waiting...)
	d.Timeline = newTimeline(pending, v.Now, graces)
	v.Title, v.Nav = "Revocations", "revocations"
	c.render(w, http.StatusOK, "revocations", v, d)
}

// revocationAction cancels, retries, completes or rejects a revocation
// through the API.
func (c *Console) revocationAction(verb string) func(http.ResponseWriter, *http.Request, *view) {
	return func(w http.ResponseWriter, r *http.Request, _ *view) {
		id := r.PathValue("id")
		to := back(r, "/revocations")
		var body any
		var msg string
		switch verb {
		case "cancel":
			body, msg = map[string]string{"reason": r.PostFormValue("reason")}, "Revocation %s cancelled."
		case "retry":
			msg = "Revocation %s scheduled again, now, with fresh attempts."
		case "complete":
			body, msg = map[string]string{"note": r.PostFormValue("note")}, "Work item %s completed."
		case "reject":
			body, msg = map[string]string{"note": r.PostFormValue("note")}, "Work item %s rejected: the revocation failed with your note."
		}
		var out store.Revocation
		err := c.call(r, http.MethodPost, "/api/v1/revocations/"+id+"/"+verb, body, &out)
		done(w, r, to, fmt.Sprintf(msg, id), err)
	}
}
