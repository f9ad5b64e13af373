package connectortest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

// population builds more than two pages of users and more than one page of
// groups: group i holds users i and i+1, and the last users are in none.
func (s *suite) population() (users []string, groups map[string][]string) {
	page := s.h.PageSize
	if page <= 0 {
		page = 2
	}
	n := 2*page + 1
	for i := range n {
		users = append(users, fmt.Sprintf("user%03d", i))
	}
	groups = map[string][]string{}
	for i := range page + 1 {
		groups[fmt.Sprintf("group%03d", i)] = []string{users[i], users[i+1]}
	}
	return users, groups
}

func (s *suite) aggregate(t *testing.T) {
	t.Parallel()
	users, groups := s.population()
	tg := s.h.Open(t, users, groups)
	l := need[connector.Lister](t, tg.Connector, "Lister (a target it cannot list is aggregated by hand, not by the connector)")

	memberOf := map[string][]string{}
	for g, members := range groups {
		for _, u := range members {
			memberOf[u] = append(memberOf[u], g)
		}
	}

	got := listAll(t, l)
	if len(got) != len(users) {
		t.Errorf("listed %d accounts, want %d (page size %d)", len(got), len(users), s.h.PageSize)
	}
	groupIDs := map[string]string{} // name → id, the same for every member
	for _, u := range users {
		a, ok := got[u]
		if !ok {
			t.Errorf("account %s not listed", u)
			continue
		}
		if a.NativeID == "" {
			t.Errorf("account %s has no NativeID", u)
		}
		if a.State != account.Active {
			t.Errorf("account %s has state %q, want active", u, a.State)
		}
		names := entitlementNames(a.Entitlements)
		if !sameGroups(names, memberOf[u]) {
			t.Errorf("account %s lists groups %v, want %v", u, sorted(names), sorted(memberOf[u]))
		}
		if st := tg.State(t, u); !sameGroups(names, st.Groups) || !st.Exists || !st.Active {
			t.Errorf("account %s lists groups %v; the target says %s", u, sorted(names), st)
		}
		seen := map[string]bool{}
		for _, e := range a.Entitlements {
			switch {
			case e.ID == "":
				t.Errorf("account %s: entitlement %q has no ID", u, e.Name)
			case seen[e.ID]:
				t.Errorf("account %s: entitlement %s listed twice", u, e.ID)
			case groupIDs[e.Name] != "" && groupIDs[e.Name] != e.ID:
				t.Errorf("group %s has ID %q for one member and %q for another", e.Name, groupIDs[e.Name], e.ID)
			}
			seen[e.ID] = true
			groupIDs[e.Name] = e.ID
		}
	}
	for u := range got {
		if !slices.Contains(users, u) {
			t.Errorf("listed account %s that the target was not given", u)
		}
	}
}

func (s *suite) aggregateStops(t *testing.T) {
	t.Parallel()
	users, groups := s.population()
	tg := s.h.Open(t, users, groups)
	l := need[connector.Lister](t, tg.Connector, "Lister")

	stop := errors.New("stop here")
	n := 0
	err := l.ListAccounts(ctx(t), func(account.Account) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("ListAccounts = %v after %d call(s), want the callback's error after 1", err, n)
	}
}
