package faulttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deprov/deprov/internal/scimtarget"
)

// scimClient talks to the target directly, as an administrator of the
// application would; deprov's own SCIM client is what the tests check.
func scimClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
}

func scimDo(c *http.Client, tg *scimtarget.Target, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, tg.URL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tg.Token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, tail(string(b), 5))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// createUsers creates active users in the target with 16 concurrent POSTs
// and returns their ids by userName.
func createUsers(t *testing.T, tg *scimtarget.Target, names []string) map[string]string {
	t.Helper()
	c := scimClient()
	defer c.CloseIdleConnections()
	ids := make([]string, len(names))
	errs := make(chan error, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				user := map[string]any{
					"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
					"userName": names[i],
					"active":   true,
				}
				var out struct{ ID string }
				if err := scimDo(c, tg, http.MethodPost, "/Users", user, &out); err != nil {
					errs <- err
					continue
				}
				ids[i] = out.ID
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("create users in the target: %v", err)
	}
	out := make(map[string]string, len(names))
	for i, n := range names {
		out[n] = ids[i]
	}
	return out
}

// targetUser is a user as the target lists it.
type targetUser struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
	Active   *bool  `json:"active"`
}

// listUsers pages through every user in the target.
func listUsers(t *testing.T, tg *scimtarget.Target) []targetUser {
	t.Helper()
	c := scimClient()
	defer c.CloseIdleConnections()
	var all []targetUser
	for start := 1; ; {
		var page struct {
			TotalResults int          `json:"totalResults"`
			Resources    []targetUser `json:"Resources"`
		}
		if err := scimDo(c, tg, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=1000", start), nil, &page); err != nil {
			t.Fatalf("list target users: %v", err)
		}
		all = append(all, page.Resources...)
		start += len(page.Resources)
		if len(page.Resources) == 0 || len(all) >= page.TotalResults {
			return all
		}
	}
}

// checkTarget asserts that every leaver's account is disabled in the target
// and that exactly one PATCH reached the target for each: the change was
// made once, whatever was retried or rescued on deprov's side.
func checkTarget(t *testing.T, tg *scimtarget.Target, ids map[string]string) {
	t.Helper()
	patches := map[string]int{}
	for _, rq := range tg.Requests(t) {
		if rq.Method == http.MethodPatch {
			patches[strings.TrimPrefix(rq.Path, "/scim/v2/Users/")]++
		}
	}
	users := listUsers(t, tg)
	byID := map[string]targetUser{}
	for _, u := range users {
		byID[u.ID] = u
	}
	bad := 0
	for name, id := range ids {
		u, ok := byID[id]
		switch {
		case !ok:
			t.Errorf("target: %s (%s) is gone; it should only be disabled", name, id)
		case u.Active == nil || *u.Active:
			t.Errorf("target: %s is still active", name)
		case patches[id] != 1:
			t.Errorf("target: %s was PATCHed %d times, want exactly once", name, patches[id])
		default:
			continue
		}
		if bad++; bad > 10 {
			t.Fatalf("target: more than 10 accounts wrong; stopping")
		}
	}
}
