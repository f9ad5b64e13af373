package scimtarget_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/deprov/deprov/internal/scimtarget"
)

func TestTarget(t *testing.T) {
	t.Parallel()
	tg := scimtarget.Start(t)

	alice := tg.CreateUser(t, "alice", true)
	bob := tg.CreateUser(t, "bob", false)
	eng := tg.CreateGroup(t, "eng", alice, bob)
	empty := tg.CreateGroup(t, "empty")

	u, found := tg.User(t, bob)
	if !found || u["userName"] != "bob" || u["active"] != false {
		t.Fatalf("User(bob) = %v, %v", u, found)
	}
	if got := tg.GroupMembers(t, eng); !slices.Equal(got, []string{alice, bob}) {
		t.Errorf("GroupMembers(eng) = %v, want [%s %s]", got, alice, bob)
	}
	if got := tg.GroupMembers(t, empty); len(got) != 0 {
		t.Errorf("GroupMembers(empty) = %v, want none", got)
	}
	if _, found := tg.User(t, "no-such-id"); found {
		t.Error("User(no-such-id) found")
	}

	reqs := tg.Requests(t)
	if len(reqs) != 8 || reqs[0].Method != http.MethodPost || reqs[0].Path != "/scim/v2/Users" || reqs[0].Status != http.StatusCreated {
		t.Fatalf("Requests = %+v, want 8 starting with POST /scim/v2/Users 201", reqs)
	}
	if last := reqs[7]; last.Status != http.StatusNotFound || last.Time.IsZero() {
		t.Errorf("last request = %+v, want a timed 404", last)
	}

	tg.FailNext(t, 1, http.StatusServiceUnavailable, map[string]string{"Retry-After": "2"})
	req, _ := http.NewRequest(http.MethodGet, tg.URL+"/Users", nil)
	req.Header.Set("Authorization", "Bearer "+tg.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("after FailNext: %d Retry-After=%q, want 503 and 2", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	tg.Reset(t)
	if _, found := tg.User(t, alice); found {
		t.Error("alice survived Reset")
	}
	if reqs := tg.Requests(t); len(reqs) != 1 { // the User call just above
		t.Errorf("Requests after Reset = %+v, want 1", reqs)
	}
}

func TestTargetRejectsWrongToken(t *testing.T) {
	t.Parallel()
	tg := scimtarget.Start(t)
	for _, auth := range []string{"", "Bearer wrong", "Basic " + tg.Token} {
		req, _ := http.NewRequest(http.MethodGet, tg.URL+"/Users", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, resp.StatusCode)
		}
	}
}

func TestTargetStop(t *testing.T) {
	t.Parallel()
	tg := scimtarget.Start(t)
	tg.Stop()
	if resp, err := http.Get(tg.URL + "/ServiceProviderConfig"); err == nil {
		resp.Body.Close()
		t.Fatal("target still answers after Stop")
	}
}
