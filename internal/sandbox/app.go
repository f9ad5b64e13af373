// Package sandbox is the in-process SCIM 2.0 application that `deprov demo` serves, so that a
// newcomer can watch deprov find, disable and strip a leaver's account without owning a real
// target system. It is built on github.com/elimity-com/scim, keeps users and groups in memory,
// and logs every change it makes ("sandbox: account disabled", ...) so the demo log tells the story.
package sandbox

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// maxPayloadSize bounds a request body; it is the value the library advertises in
// ServiceProviderConfig (bulk.maxPayloadSize), which it does not enforce itself.
const maxPayloadSize = 1 << 20

// maxResults caps the count of a list page.
const maxResults = 100

// App is the sandbox SCIM application. It is safe for concurrent use.
type App struct {
	token  string
	log    *slog.Logger
	server scim.Server
	now    func() time.Time

	mu         sync.RWMutex
	users      map[string]*user
	userOrder  []string // ids in creation order, so lists page stably
	groups     map[string]*group
	groupOrder []string
}

// User is a snapshot of one sandbox account, for display and tests.
type User struct {
	ID          string
	UserName    string
	DisplayName string
	Active      bool
	// Groups holds the display names of the groups the user is a member of, in group creation order.
	Groups []string
}

// New returns the sandbox application: an http.Handler serving SCIM 2.0 at its root (mount it under
// e.g. /sandbox/scim/v2 with http.StripPrefix). Every request must carry "Authorization: Bearer
// <token>"; an empty token authorizes nothing. A nil logger discards the log.
func New(token string, logger *slog.Logger) *App {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &App{
		token:  token,
		log:    logger,
		now:    time.Now,
		users:  map[string]*user{},
		groups: map[string]*group{},
	}
	server, err := scim.NewServer(
		&scim.ServerArgs{
			ServiceProviderConfig: &scim.ServiceProviderConfig{
				DocumentationURI: optional.NewString("https://github.com/deprov/deprov"),
				AuthenticationSchemes: []scim.AuthenticationScheme{{
					Type:        scim.AuthenticationTypeOauthBearerToken,
					Name:        "Bearer token",
					Description: "The token deprov demo prints at start-up.",
					Primary:     true,
				}},
				MaxResults:       maxResults,
				SupportFiltering: true,
				SupportPatch:     true,
			},
			ResourceTypes: []scim.ResourceType{
				{
					ID:          optional.NewString("User"),
					Name:        "User",
					Description: optional.NewString("User Account"),
					Endpoint:    "/Users",
					Schema:      schema.CoreUserSchema(),
					Handler:     userHandler{a},
				},
				{
					ID:          optional.NewString("Group"),
					Name:        "Group",
					Description: optional.NewString("Group"),
					Endpoint:    "/Groups",
					Schema:      schema.CoreGroupSchema(),
					Handler:     groupHandler{a},
				},
			},
		},
		scim.WithLogger(scimLogger{logger}),
	)
	if err != nil {
		// NewServer only fails on missing arguments, which are constants above.
		panic(fmt.Sprintf("sandbox: build scim server: %v", err))
	}
	a.server = server
	return a
}

// ServeHTTP checks the bearer token and hands the request to the SCIM server.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r) {
		w.Header().Set("Content-Type", "application/scim+json")
		w.Header().Set("WWW-Authenticate", `Bearer realm="deprov sandbox"`)
		w.WriteHeader(http.StatusUnauthorized)
		body, _ := json.Marshal(scimerrors.ScimError{
			Status: http.StatusUnauthorized,
			Detail: "Missing or invalid bearer token.",
		})
		_, _ = w.Write(body)
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxPayloadSize)
	}
	a.server.ServeHTTP(w, r)
}

func (a *App) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || a.token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(a.token)) == 1
}

// Seed adds an active user and returns its id. Seeding is set-up code, so a userName that is
// already taken is a bug in it and Seed panics.
func (a *App) Seed(userName, displayName, email string) string {
	attrs := map[string]any{
		"userName": userName,
		"active":   true,
	}
	if displayName != "" {
		attrs["displayName"] = displayName
		attrs["name"] = map[string]any{"formatted": displayName}
	}
	if email != "" {
		attrs["emails"] = []any{map[string]any{"value": email, "type": "work", "primary": true}}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	u, err := a.createUser(attrs)
	if err != nil {
		panic(fmt.Sprintf("sandbox: seed %q: %v", userName, err))
	}
	return u.id
}

// AddGroup adds a group with the given members and returns its id. A member id that names no user
// is a bug in the set-up code, and AddGroup panics.
func (a *App) AddGroup(displayName string, memberIDs ...string) string {
	attrs := map[string]any{"displayName": displayName}
	members := make([]any, 0, len(memberIDs))
	for _, id := range memberIDs {
		members = append(members, map[string]any{"value": id})
	}
	attrs["members"] = members
	a.mu.Lock()
	defer a.mu.Unlock()
	g, err := a.createGroup(attrs)
	if err != nil {
		panic(fmt.Sprintf("sandbox: add group %q: %v", displayName, err))
	}
	return g.id
}

// Users returns a snapshot of the users in creation order.
func (a *App) Users() []User {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]User, 0, len(a.userOrder))
	for _, id := range a.userOrder {
		u := a.users[id]
		var groups []string
		for _, g := range a.groupsOf(id) {
			groups = append(groups, g.displayName)
		}
		out = append(out, User{
			ID:          u.id,
			UserName:    u.userName(),
			DisplayName: u.displayName(),
			Active:      u.active(),
			Groups:      groups,
		})
	}
	return out
}

// groupsOf returns the groups userID is a member of, in creation order. The caller holds a.mu.
func (a *App) groupsOf(userID string) []*group {
	var out []*group
	for _, gid := range a.groupOrder {
		if g := a.groups[gid]; slices.Contains(g.members, userID) {
			out = append(out, g)
		}
	}
	return out
}

// scimLogger routes the library's error log to slog. The library calls Error(msg, key, value, ...),
// which is already slog's argument shape.
type scimLogger struct{ log *slog.Logger }

func (l scimLogger) Error(args ...any) {
	msg := "scim server error"
	if len(args) > 0 {
		if s, ok := args[0].(string); ok {
			msg, args = s, args[1:]
		}
	}
	l.log.Error("sandbox: "+msg, args...)
}
