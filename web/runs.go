package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
)

// runsData is the runs page's data.
type runsData struct {
	Quarantined []store.Run
	Runs        []store.Run
	Rules       []config.Rule
	Rule, State string
	// Older is the cursor of the next page (0 on the last).
	Older int64
	// RuleNames by id, for display.
	RuleNames map[string]string
}

var runStates = []store.RunState{store.RunCompleted, store.RunQuarantined, store.RunApproved, store.RunRejected, store.RunFailed}

func (c *Console) runsPage(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	d := runsData{Rule: q.Get("rule"), State: q.Get("state"), RuleNames: map[string]string{}}
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	d.Rules = cfg.Rules
	for _, ru := range cfg.Rules {
		d.RuleNames[ru.ID] = cmpStr(ru.Name, ru.ID)
	}
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	validState := d.State == ""
	for _, s := range runStates {
		validState = validState || string(s) == d.State
	}
	if !validState {
		d.State = ""
	}
	const page = 50
	if d.Runs, err = c.st.ListRuns(r.Context(), store.RunQuery{RuleID: d.Rule, State: store.RunState(d.State), Before: before, Limit: page}); err != nil {
		c.failed(w, r, v, err)
		return
	}
	if len(d.Runs) == page {
		d.Older = d.Runs[len(d.Runs)-1].ID
	}
	if before == 0 {
		if d.Quarantined, err = c.st.ListRuns(r.Context(), store.RunQuery{State: store.RunQuarantined, Limit: 100}); err != nil {
			c.failed(w, r, v, err)
			return
		}
	}
	v.Title, v.Nav = "Runs", "runs"
	c.render(w, http.StatusOK, "runs", v, d)
}

func (c *Console) runPage(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.notFound(w, r, v, "There is no run "+r.PathValue("id")+".")
		return
	}
	run, err := c.st.Run(r.Context(), id)
	if err != nil {
		c.notFound(w, r, v, fmt.Sprintf("There is no run %d.", id))
		return
	}
	revs, err := c.st.ListRevocations(r.Context(), store.RevocationQuery{RunID: id})
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	d := planData{Run: run, RuleName: c.ruleName(r, run.RuleID), Revocations: revs, RevByItem: map[string]store.Revocation{}}
	d.Items, d.Hidden = capItems(run.Items)
	for _, rv := range revs {
		d.RevByItem[rv.IdentityID+"|"+rv.ApplicationID+"|"+rv.AccountID] = rv
		if rv.State == store.Succeeded || rv.State == store.Scheduled || rv.State == store.Waiting {
			d.Undoable = true
		}
	}
	d.Undoable = d.Undoable && run.Trigger != "undo"
	v.Title, v.Nav = fmt.Sprintf("Run %d", id), "runs"
	c.render(w, http.StatusOK, "plan", v, d)
}

// runAction approves, rejects or undoes a run through the API.
func (c *Console) runAction(verb string) func(http.ResponseWriter, *http.Request, *view) {
	return func(w http.ResponseWriter, r *http.Request, _ *view) {
		id := r.PathValue("id")
		to := back(r, "/runs/"+id)
		path := "/api/v1/runs/" + id + "/" + verb
		switch verb {
		case "approve":
			var run store.Run
			err := c.call(r, http.MethodPost, path, nil, &run)
			done(w, r, to, fmt.Sprintf("Run %s approved: its %s are scheduled.", id, plural(run.Counts.Planned, "revocation", "revocations")), err)
		case "reject":
			err := c.call(r, http.MethodPost, path, map[string]string{"reason": r.PostFormValue("reason")}, nil)
			done(w, r, to, fmt.Sprintf("Run %s rejected: nothing of its plan will be done.", id), err)
		case "undo":
			var res engine.UndoResult
			err := c.call(r, http.MethodPost, path, nil, &res)
			msg := fmt.Sprintf("Run %s undone: %s, %s cancelled", id, plural(len(res.Restoring), "account to restore", "accounts to restore"), plural(len(res.Cancelled), "revocation", "revocations"))
			if n := len(res.NotUndoable); n > 0 {
				msg += fmt.Sprintf("; %d delete(s) cannot be undone", n)
			}
			if n := len(res.StillRunning); n > 0 {
				msg += fmt.Sprintf("; %d began meanwhile: undo the run again once they have finished", n)
			}
			if err == nil && res.Run.ID != 0 {
				to = fmt.Sprintf("/runs/%d", res.Run.ID)
			}
			done(w, r, to, msg+".", err)
		}
	}
}
