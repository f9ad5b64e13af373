package scim

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/deprov/deprov/account"
)

// user is the part of a SCIM User resource deprov reads. encoding/json
// matches names case-insensitively, as SCIM attribute names are.
type user struct {
	ID          string `json:"id"`
	UserName    string `json:"userName"`
	ExternalID  string `json:"externalId"`
	DisplayName string `json:"displayName"`
	// Active is a boolean; some servers send "True"/"False" strings.
	Active any `json:"active"`
	Emails []struct {
		Value   string `json:"value"`
		Primary any    `json:"primary"`
	} `json:"emails"`
	// Groups is read-only in SCIM and derived from memberships; servers
	// that fill it let us see memberships without listing groups.
	Groups []struct {
		Value   string `json:"value"`
		Display string `json:"display"`
	} `json:"groups"`

	raw map[string]any
}

func (u *user) UnmarshalJSON(b []byte) error {
	type plain user
	if err := json.Unmarshal(b, (*plain)(u)); err != nil {
		return err
	}
	return json.Unmarshal(b, &u.raw)
}

func (u *user) id() string { return u.ID }

// active reads the active attribute; a missing one means active (RFC 7643
// gives no default, and an account that lists is an account that works).
func (u *user) active() bool { return truth(u.Active, true) }

func (u *user) email() string {
	for _, e := range u.Emails {
		if truth(e.Primary, false) && e.Value != "" {
			return e.Value
		}
	}
	for _, e := range u.Emails {
		if e.Value != "" {
			return e.Value
		}
	}
	return ""
}

// attributes keeps simple string attributes for correlation: top-level
// ones, name.* sub-attributes, and extension attributes (such as the
// enterprise employeeNumber and department) under their own names.
func (u *user) attributes() map[string]string {
	attrs := map[string]string{}
	var ext []map[string]any
	for k, v := range u.raw {
		switch lk := strings.ToLower(k); {
		case lk == "id" || lk == "username" || lk == "password":
		case strings.HasPrefix(lk, "urn:"):
			if m, ok := v.(map[string]any); ok {
				ext = append(ext, m)
			}
		case lk == "name":
			if m, ok := v.(map[string]any); ok {
				for sk, sv := range m {
					if s, ok := sv.(string); ok && s != "" {
						attrs["name."+sk] = s
					}
				}
			}
		default:
			if s, ok := v.(string); ok && s != "" {
				attrs[k] = s
			}
		}
	}
	for _, m := range ext {
		for k, v := range m {
			if s, ok := v.(string); ok && s != "" {
				if _, taken := attrs[k]; !taken {
					attrs[k] = s
				}
			}
		}
	}
	if len(attrs) == 0 {
		return nil
	}
	return attrs
}

// group is the part of a SCIM Group resource deprov reads. A group without
// members may come without the members attribute at all.
type group struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Members     []member `json:"members"`
}

type member struct {
	Value string `json:"value"`
}

func (g *group) id() string { return g.ID }

func (g *group) has(userID string) bool {
	return slices.Contains(g.Members, member{Value: userID})
}

func (g *group) entitlement() account.Entitlement {
	return account.Entitlement{ID: g.ID, Name: g.DisplayName}
}

// listResponse is a SCIM ListResponse page.
type listResponse[T any] struct {
	TotalResults *int `json:"totalResults"`
	Resources    []T  `json:"Resources"`
}

// list pages through path with startIndex and count, calling fn once per
// resource. It asks for the next page from startIndex plus what it got, so
// a server that pages smaller than asked is still read to the end; it stops
// at totalResults or at an empty page, and fails on a server that repeats
// itself (one that ignores startIndex) rather than loop or double-count.
func list[T any, P interface {
	*T
	id() string
}](ctx context.Context, c *Connector, path string, query url.Values, fn func(*T) error) error {
	seen := map[string]bool{}
	start := 1
	for {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("startIndex", strconv.Itoa(start))
		q.Set("count", strconv.Itoa(c.pageSize))
		var page listResponse[T]
		if _, err := c.do(ctx, http.MethodGet, path, q, nil, &page); err != nil {
			return err
		}
		fresh := 0
		for i := range page.Resources {
			r := &page.Resources[i]
			id := P(r).id()
			if id == "" {
				return fmt.Errorf("scim: GET %s: a resource has no id", path)
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			fresh++
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page.Resources) == 0 || (page.TotalResults != nil && len(seen) >= *page.TotalResults) {
			return nil
		}
		if fresh == 0 {
			return fmt.Errorf("scim: GET %s: page at startIndex=%d repeats earlier resources: the server seems to ignore startIndex", path, start)
		}
		start += len(page.Resources)
	}
}

// ListAccounts lists every user with its group memberships, taken from the
// Groups endpoint and from each user's groups attribute, whichever the
// server fills.
func (c *Connector) ListAccounts(ctx context.Context, fn func(account.Account) error) error {
	memberOf := map[string][]account.Entitlement{}
	err := list[group](ctx, c, "/Groups", nil, func(g *group) error {
		for _, m := range g.Members {
			memberOf[m.Value] = append(memberOf[m.Value], g.entitlement())
		}
		return nil
	})
	if err != nil && !groupsUnsupported(err) {
		return fmt.Errorf("list groups: %w", err)
	}

	var fnErr error
	err = list[user](ctx, c, "/Users", nil, func(u *user) error {
		if fnErr = fn(toAccount(u, memberOf[u.ID])); fnErr != nil {
			return fnErr
		}
		return nil
	})
	if err != nil && fnErr == nil {
		return fmt.Errorf("list users: %w", err)
	}
	return err
}

// groupsUnsupported tells a server without a Groups endpoint.
func groupsUnsupported(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Status == http.StatusNotFound || se.Status == http.StatusNotImplemented)
}

func toAccount(u *user, fromGroups []account.Entitlement) account.Account {
	state := account.Active
	if !u.active() {
		state = account.Disabled
	}
	ents := slices.Clone(fromGroups)
	for _, g := range u.Groups {
		if g.Value != "" {
			ents = append(ents, account.Entitlement{ID: g.Value, Name: g.Display})
		}
	}
	return account.Account{
		NativeID:     u.ID,
		UserName:     u.UserName,
		Email:        u.email(),
		State:        state,
		Entitlements: dedupe(ents),
		Attributes:   u.attributes(),
	}
}

// dedupe sorts entitlements by name then id and keeps one per id,
// preferring the one that has a name.
func dedupe(ents []account.Entitlement) []account.Entitlement {
	if len(ents) == 0 {
		return nil
	}
	byID := map[string]account.Entitlement{}
	for _, e := range ents {
		if old, ok := byID[e.ID]; !ok || old.Name == "" {
			byID[e.ID] = e
		}
	}
	out := make([]account.Entitlement, 0, len(byID))
	for _, e := range byID {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b account.Entitlement) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// truth reads a SCIM boolean, tolerating string forms; def when absent or
// unreadable.
func truth(v any, def bool) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b
		}
	}
	return def
}
