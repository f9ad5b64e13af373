package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/connector/webhook"
)

var alice = account.Account{
	ApplicationID: "crm", NativeID: "u-17", UserName: "alice", Email: "alice@example.com",
	Entitlements: []account.Entitlement{{ID: "g-1", Name: "sales"}},
}

func TestPayloadAndSignature(t *testing.T) {
	t.Parallel()
	const secret = "payload-secret"
	rc := newReceiver(t, secret, []string{"alice"}, nil)
	c := open(t, connector.Settings{"url": rc.URL + "/hook?tenant=7", "secret": secret,
		"headers": map[string]any{"X-Tenant": "seven", "authorization": "Bearer gateway-token"}})

	ctx := webhook.WithRevocation(context.Background(), 42, "emp-9", "crm")
	if _, err := c.Disable(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enable(context.Background(), alice); err != nil {
		t.Fatal(err)
	}
	log := rc.log()
	if len(log) != 2 || log[0].status != http.StatusOK || log[1].status != http.StatusOK {
		t.Fatalf("receiver saw %+v", log)
	}

	first := log[0]
	var raw map[string]any
	if err := json.Unmarshal(first.body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"action", "application", "account", "identity", "revocationId", "idempotencyKey", "timestamp"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("body has no %q: %s", k, first.body)
		}
	}
	p := first.payload
	if p.Action != "disable" || p.Application != "crm" || p.Identity != "emp-9" || p.RevocationID != 42 ||
		p.Account.ID != "u-17" || p.Account.UserName != "alice" || p.Account.Email != "alice@example.com" ||
		len(p.Account.Entitlements) != 1 || p.IdempotencyKey != "deprov-42-disable" {
		t.Errorf("payload = %+v", p)
	}
	if ts, err := time.Parse(time.RFC3339, p.Timestamp); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("timestamp %q", p.Timestamp)
	}
	h := first.header
	if h.Get("Idempotency-Key") != "deprov-42-disable" || h.Get("Content-Type") != "application/json" ||
		h.Get("X-Tenant") != "seven" || h.Get("Authorization") != "Bearer gateway-token" ||
		!strings.HasPrefix(h.Get("Deprov-Signature"), "v1=") || h.Get("Deprov-Timestamp") == "" {
		t.Errorf("headers = %v", h)
	}

	// Without a revocation in the context: a stable hash, the same on retry.
	second := log[1].payload
	if !strings.HasPrefix(second.IdempotencyKey, "deprov-") || len(second.IdempotencyKey) != len("deprov-")+32 ||
		second.RevocationID != 0 || second.Identity != "" || second.Application != "crm" {
		t.Errorf("payload without revocation = %+v", second)
	}
	if _, err := c.Enable(context.Background(), alice); err != nil { // 409: already
		t.Fatal(err)
	}
	if again := rc.log()[2].payload.IdempotencyKey; again != second.IdempotencyKey {
		t.Errorf("idempotency key changed between attempts: %s, then %s", second.IdempotencyKey, again)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	secret := []byte("verify-secret")
	type capture struct {
		r    *http.Request
		body []byte
	}
	captured := make(chan capture, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		captured <- capture{r.Clone(context.Background()), body}
	}))
	t.Cleanup(srv.Close)
	c := open(t, connector.Settings{"url": srv.URL, "secret": string(secret)})

	for _, tc := range []struct {
		name string
		mod  func(r *http.Request, body *[]byte)
		ok   bool
	}{
		{"genuine", func(*http.Request, *[]byte) {}, true},
		{"a second signature", func(r *http.Request, _ *[]byte) {
			r.Header.Set("Deprov-Signature", "v1=00ff,"+r.Header.Get("Deprov-Signature"))
		}, true},
		{"body changed", func(_ *http.Request, b *[]byte) { *b = []byte(strings.Replace(string(*b), "delete", "enable", 1)) }, false},
		{"timestamp changed", func(r *http.Request, _ *[]byte) {
			ts, _ := strconv.ParseInt(r.Header.Get("Deprov-Timestamp"), 10, 64)
			r.Header.Set("Deprov-Timestamp", strconv.FormatInt(ts+1, 10))
		}, false},
		{"too old", func(r *http.Request, _ *[]byte) { r.Header.Set("Deprov-Timestamp", "1700000000") }, false},
		{"no signature", func(r *http.Request, _ *[]byte) { r.Header.Del("Deprov-Signature") }, false},
		{"other scheme", func(r *http.Request, _ *[]byte) {
			r.Header.Set("Deprov-Signature", strings.Replace(r.Header.Get("Deprov-Signature"), "v1=", "v0=", 1))
		}, false},
	} {
		// A genuine request, with one thing changed.
		if _, err := c.Delete(context.Background(), alice); err != nil {
			t.Fatal(err)
		}
		got := <-captured
		tc.mod(got.r, &got.body)
		err := webhook.Verify(secret, got.r, got.body, time.Minute)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, webhook.ErrInvalidSignature)) {
			t.Errorf("%s: Verify = %v", tc.name, err)
		}
	}
}

// TestAnswers checks how each answer of a receiver becomes a result.
func TestAnswers(t *testing.T) {
	t.Parallel()
	const secret = "answer-secret"
	date := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name      string
		action    string
		status    int
		header    map[string]string
		body      string
		done      bool          // success, with AlreadyDone as already
		already   bool          //
		retryable bool          // else a final error
		after     time.Duration // Retry-After, ± 3 s for dates
		want      string        // in the detail or the error
	}{
		{"200", "disable", 200, nil, `{"message":"disabled in CRM"}`, true, false, false, 0, "receiver did disable (200 OK): disabled in CRM"},
		{"202", "delete", 202, nil, "", true, false, false, 0, "(202 Accepted)"},
		{"204", "revoke", 204, nil, "", true, false, false, 0, "(204 No Content)"},
		{"404 on disable", "disable", 404, nil, `{"error":"no such user"}`, true, true, false, 0, "no such user"},
		{"409", "disable", 409, nil, `{"message":"already disabled"}`, true, true, false, 0, "already disabled"},
		{"410 on delete", "delete", 410, nil, "gone", true, true, false, 0, "gone"},
		{"409 on enable", "enable", 409, nil, "", true, true, false, 0, "(409 Conflict)"},
		{"404 on enable", "enable", 404, nil, "", false, false, false, 0, "cannot be enabled"},
		{"429 with seconds", "disable", 429, map[string]string{"Retry-After": "2"}, "slow down", false, false, true, 2 * time.Second, "429 Too Many Requests: slow down"},
		{"503 with a date", "disable", 503, map[string]string{"Retry-After": date}, "", false, false, true, 30 * time.Second, "503"},
		{"500 without Retry-After", "revoke", 500, nil, "<html>oops</html>", false, false, true, 0, "<html>oops</html>"},
		{"400 with a JSON error", "disable", 400, nil, `{"error":"unknown field"}`, false, false, false, 0, "400 Bad Request: unknown field"},
		{"422 with a nested error", "disable", 422, nil, `{"error":{"code":7,"message":"locked by legal hold"}}`, false, false, false, 0, "locked by legal hold"},
		{"401", "disable", 401, nil, "", false, false, false, 0, "check the application's secret"},
		{"403 echoing the secret", "disable", 403, nil, "bad secret " + secret, false, false, false, 0, "bad secret [redacted]"},
		{"long text cut at 200 bytes", "disable", 418, nil, long, false, false, false, 0, strings.Repeat("x", 200) + "…"},
		{"redirect", "disable", 302, map[string]string{"Location": "https://elsewhere.example.com/"}, "", false, false, false, 0, "redirects are not followed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			c := open(t, connector.Settings{"url": srv.URL, "secret": secret})
			var res connector.Result
			var err error
			if tc.action == webhook.ActionEnable {
				res, err = c.Enable(context.Background(), alice)
			} else {
				res, err = connector.Perform(context.Background(), c, account.Action(tc.action), alice)
			}
			switch {
			case tc.done && (err != nil || res.AlreadyDone != tc.already || !strings.Contains(res.Detail, tc.want)):
				t.Errorf("= %+v, %v; want success (already %v) saying %q", res, err, tc.already, tc.want)
			case tc.done:
			case err == nil:
				t.Errorf("= %+v, want an error", res)
			case connector.IsRetryable(err) != tc.retryable:
				t.Errorf("%v: retryable %v, want %v", err, connector.IsRetryable(err), tc.retryable)
			case !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), secret):
				t.Errorf("error %q, want it to say %q and not the secret", err, tc.want)
			case tc.retryable:
				var re *connector.RetryableError
				errors.As(err, &re)
				if d := re.After - tc.after; d < -3*time.Second || d > 0 {
					t.Errorf("Retry-After = %s, want %s", re.After, tc.after)
				}
			}
		})
	}
}

// waiter refuses the rate limiter's turns, or counts them.
type waiter struct {
	n   atomic.Int32
	err error
}

func (w *waiter) Wait(context.Context) error { w.n.Add(1); return w.err }

func TestThrottle(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, "s", []string{"alice"}, nil)
	c := open(t, connector.Settings{"url": rc.URL, "secret": "s"})

	refused := errors.New("rate limiter closed")
	if _, err := c.Disable(connector.WithWaiter(context.Background(), &waiter{err: refused}), alice); !errors.Is(err, refused) {
		t.Errorf("Disable with a refusing limiter = %v", err)
	}
	if len(rc.log()) != 0 {
		t.Error("the request went out although the limiter refused")
	}
	w := &waiter{}
	if _, err := c.Disable(connector.WithWaiter(context.Background(), w), alice); err != nil || w.n.Load() != 1 {
		t.Errorf("Disable = %v after %d wait(s), want 1", err, w.n.Load())
	}
}
