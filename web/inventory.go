package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

// appRowView is one application in the list. Connector settings are
// never shown: only the type, whatever the settings hold.
type appRowView struct {
	config.Application
	Type string
	// Accounts counts the application's accounts by state, as the last
	// aggregation found them (capped at countCap).
	Accounts          int
	Active, Disabled  int
	Capped            bool
	ExcludedBy, Rules []string
}

// countCap bounds how many accounts the list reads per application.
const countCap = 5000

func (c *Console) applicationsPage(w http.ResponseWriter, r *http.Request, v *view) {
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	var rows []appRowView
	for _, a := range cfg.Applications {
		row := appRowView{Application: a, Type: a.Connector.Type}
		row.Connector = config.Connector{Type: a.Connector.Type}
		accts, err := c.st.ListAccounts(r.Context(), store.AccountQuery{ApplicationID: a.ID, Limit: countCap + 1})
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		if len(accts) > countCap {
			row.Capped, accts = true, accts[:countCap]
		}
		row.Accounts = len(accts)
		for _, ac := range accts {
			switch ac.State {
			case account.Active:
				row.Active++
			case account.Disabled:
				row.Disabled++
			}
		}
		for _, ru := range cfg.Rules {
			for _, x := range ru.ExcludeApplications {
				if x.Application == a.ID {
					row.ExcludedBy = append(row.ExcludedBy, ru.ID)
				}
			}
		}
		rows = append(rows, row)
	}
	v.Title, v.Nav = "Applications", "applications"
	c.render(w, http.StatusOK, "applications", v, rows)
}

// applicationData is an application's page: its accounts.
type applicationData struct {
	App      appRowView
	Accounts []account.Account
	Next     string
	Filter   string
}

func (c *Console) applicationPage(w http.ResponseWriter, r *http.Request, v *view) {
	id := r.PathValue("id")
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	a, ok := cfg.Application(id)
	if !ok {
		c.notFound(w, r, v, fmt.Sprintf("There is no application %q.", id))
		return
	}
	d := applicationData{App: appRowView{Application: a, Type: a.Connector.Type}, Filter: r.URL.Query().Get("show")}
	d.App.Connector = config.Connector{Type: a.Connector.Type}
	const page = 100
	q := store.AccountQuery{ApplicationID: id, After: r.URL.Query().Get("after"), Limit: page, Uncorrelated: d.Filter == "uncorrelated"}
	if d.Accounts, err = c.st.ListAccounts(r.Context(), q); err != nil {
		c.failed(w, r, v, err)
		return
	}
	if len(d.Accounts) == page {
		last := d.Accounts[len(d.Accounts)-1]
		d.Next = last.ApplicationID + "/" + last.NativeID
	}
	v.Title, v.Nav = cmpStr(a.Name, a.ID), "applications"
	c.render(w, http.StatusOK, "application", v, d)
}

func (c *Console) aggregate(w http.ResponseWriter, r *http.Request, _ *view) {
	id := r.PathValue("id")
	var res store.AggregateResult
	err := c.call(r, http.MethodPost, "/api/v1/applications/"+url.PathEscape(id)+"/aggregate", nil, &res)
	done(w, r, back(r, "/applications"), fmt.Sprintf("Aggregated %s: %d accounts, %d correlated, %d uncorrelated, %d no longer there.",
		id, res.Accounts, res.Correlated, res.Uncorrelated, res.Removed), err)
}

// identitiesData is the identity search page's data.
type identitiesData struct {
	Search, Source string
	Sources        []config.Source
	Identities     []identity.Identity
	Total          int
	Next           string
}

func (c *Console) identitiesPage(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	d := identitiesData{Search: q.Get("search"), Source: q.Get("source")}
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	d.Sources = cfg.Sources
	const page = 50
	iq := store.IdentityQuery{Search: d.Search, SourceID: d.Source, After: q.Get("after"), Limit: page}
	if d.Identities, err = c.st.ListIdentities(r.Context(), iq); err != nil {
		c.failed(w, r, v, err)
		return
	}
	if d.Total, err = c.st.CountIdentities(r.Context(), iq); err != nil {
		c.failed(w, r, v, err)
		return
	}
	if len(d.Identities) == page {
		d.Next = d.Identities[len(d.Identities)-1].ID()
	}
	v.Title, v.Nav = "Identities", "identities"
	c.render(w, http.StatusOK, "identities", v, d)
}

// identityData is an identity's page: its record, accounts and revocations.
type identityData struct {
	Identity    identity.Identity
	Accounts    []account.Account
	Revocations []store.Revocation
}

func (c *Console) identityPage(w http.ResponseWriter, r *http.Request, v *view) {
	key := identity.Key(r.PathValue("source"), r.PathValue("ext"))
	id, err := c.st.Identity(r.Context(), key)
	if err != nil {
		c.notFound(w, r, v, fmt.Sprintf("There is no identity %s.", key))
		return
	}
	d := identityData{Identity: id}
	if d.Accounts, err = c.st.ListAccounts(r.Context(), store.AccountQuery{IdentityIDs: []string{key}, IncludeDeleted: true}); err != nil {
		c.failed(w, r, v, err)
		return
	}
	if d.Revocations, err = c.st.ListRevocations(r.Context(), store.RevocationQuery{IdentityID: key}); err != nil {
		c.failed(w, r, v, err)
		return
	}
	v.Title, v.Nav = cmpStr(id.DisplayName, id.UserName), "identities"
	c.render(w, http.StatusOK, "identity", v, d)
}

// sourcesData is the sources page's data: the sources and the deliveries
// the feed guard held.
type sourcesData struct {
	Sources []config.Source
	Pending []store.HeldSync
	Decided []store.HeldSync
}

func (c *Console) sourcesPage(w http.ResponseWriter, r *http.Request, v *view) {
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	d := sourcesData{}
	// Tokens and paths are shown only as the redacted export shows them.
	for _, s := range config.Redacted(cfg).Sources {
		s.Token = ""
		d.Sources = append(d.Sources, s)
	}
	if d.Pending, err = c.st.ListHeldSyncs(r.Context(), store.HeldSyncQuery{State: store.HeldPending, Limit: 100}); err != nil {
		c.failed(w, r, v, err)
		return
	}
	all, err := c.st.ListHeldSyncs(r.Context(), store.HeldSyncQuery{Limit: 50})
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	for _, h := range all {
		if h.State != store.HeldPending {
			d.Decided = append(d.Decided, h)
		}
	}
	v.Title, v.Nav = "Sources", "sources"
	c.render(w, http.StatusOK, "sources", v, d)
}

func (c *Console) syncSource(w http.ResponseWriter, r *http.Request, _ *view) {
	id := r.PathValue("id")
	var rep engine.SyncReport
	err := c.call(r, http.MethodPost, "/api/v1/sources/"+url.PathEscape(id)+"/sync", nil, &rep)
	done(w, r, back(r, "/sources"), syncMessage(id, rep), err)
}

func syncMessage(id string, rep engine.SyncReport) string {
	if rep.Held != nil {
		return fmt.Sprintf("Source %s: delivery %d was held, nothing of it applied: %s. Approve or reject it below.", id, rep.Held.ID, rep.Held.Reason)
	}
	return fmt.Sprintf("Source %s synced: %d created, %d updated, %d unchanged, %d status changes.",
		id, rep.Created, rep.Updated, rep.Unchanged, rep.StatusChanged)
}

func (c *Console) heldSyncAction(verb string) func(http.ResponseWriter, *http.Request, *view) {
	return func(w http.ResponseWriter, r *http.Request, _ *view) {
		id := r.PathValue("id")
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			done(w, r, "/sources", "", fmt.Errorf("no held delivery %q", id))
			return
		}
		path := "/api/v1/held-syncs/" + id + "/" + verb
		if verb == "approve" {
			var rep engine.SyncReport
			err := c.call(r, http.MethodPost, path, nil, &rep)
			done(w, r, back(r, "/sources"), fmt.Sprintf("Held delivery %s approved and applied: %d created, %d updated, %d status changes.",
				id, rep.Created, rep.Updated, rep.StatusChanged), err)
			return
		}
		err := c.call(r, http.MethodPost, path, map[string]string{"reason": r.PostFormValue("reason")}, nil)
		done(w, r, back(r, "/sources"), fmt.Sprintf("Held delivery %s rejected: nothing of it was applied.", id), err)
	}
}
