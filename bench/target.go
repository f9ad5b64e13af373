package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FakeTarget is the least a SCIM service provider must do for deprov to
// disable users: GET /Users/{id} answers an active user, PATCH /Users/{id}
// answers 204. Every answer waits Latency first, so a zero Latency measures
// deprov's own cost and a fixed one how well deprov overlaps round trips.
type FakeTarget struct {
	URL, Token string
	// Gets and Patches count the requests answered, Conns the TCP
	// connections accepted.
	Gets, Patches, Conns atomic.Int64
	latency              time.Duration
	srv                  *httptest.Server
}

// StartFake starts a fake target on loopback, stopped when tb ends.
func StartFake(tb testing.TB, latency time.Duration) *FakeTarget {
	tb.Helper()
	f := &FakeTarget{Token: "bench-token", latency: latency}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.Conns.Add(1)
		}
	}
	f.srv.Start()
	f.URL = f.srv.URL + "/scim/v2"
	tb.Cleanup(f.srv.Close)
	return f
}

func (f *FakeTarget) serve(w http.ResponseWriter, r *http.Request) {
	if f.latency > 0 {
		time.Sleep(f.latency) // the target's latency
	}
	if r.Header.Get("Authorization") != "Bearer "+f.Token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/scim/v2/Users/")
	if !ok || id == "" || strings.Contains(id, "/") {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		f.Gets.Add(1)
		w.Header().Set("Content-Type", "application/scim+json")
		fmt.Fprintf(w, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":%q,"userName":%q,"active":true}`, id, "u-"+id)
	case http.MethodPatch:
		_, _ = io.Copy(io.Discard, r.Body)
		f.Patches.Add(1)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// IDs are n native ids for a fake target, which knows every id.
func IDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("acct-%07d", i)
	}
	return out
}

// BareOptions say what the bare client sends.
type BareOptions struct {
	// URL and Token reach the SCIM target.
	URL, Token string
	// Concurrency is how many requests are in flight at once.
	Concurrency int
	// ReadFirst sends GET /Users/{id} before each PATCH, as deprov's SCIM
	// connector does.
	ReadFirst bool
	// Active is the value the PATCH sets.
	Active bool
	// Transport is the client's; nil means one that keeps Concurrency
	// connections open.
	Transport http.RoundTripper
}

// Bare disables (or enables) the users ids with plain net/http: the same
// requests, headers and bodies as deprov's SCIM connector, at a fixed
// concurrency, and nothing else. It returns how long it took.
func Bare(ctx context.Context, o BareOptions, ids []string) (time.Duration, error) {
	tr := o.Transport
	if tr == nil {
		tr = &http.Transport{MaxIdleConns: o.Concurrency, MaxIdleConnsPerHost: o.Concurrency, IdleConnTimeout: 90 * time.Second}
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":%t}]}`, o.Active)
	send := func(method, id, body string) error {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, o.URL+"/Users/"+url.PathEscape(id), rd)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+o.Token)
		req.Header.Set("Accept", "application/scim+json")
		if body != "" {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: status %d", method, id, resp.StatusCode)
		}
		return nil
	}
	work := make(chan string)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if o.ReadFirst {
					if err := send(http.MethodGet, id, ""); err != nil {
						firstErr.CompareAndSwap(nil, err)
						continue
					}
				}
				if err := send(http.MethodPatch, id, body); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	client.CloseIdleConnections()
	if err, _ := firstErr.Load().(error); err != nil {
		return elapsed, err
	}
	return elapsed, nil
}
