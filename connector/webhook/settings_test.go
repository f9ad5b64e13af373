package webhook_test

import (
	"strings"
	"testing"

	"github.com/deprov/deprov/connector"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	f, ok := connector.Lookup("webhook")
	if !ok {
		t.Fatal(`connector type "webhook" is not registered`)
	}
	if len(f.Secrets) != 2 || f.Secrets[0] != "secret" || f.Secrets[1] != "headers" {
		t.Errorf("Secrets = %v, want [secret headers]", f.Secrets)
	}
	const secret = "hmac-key-value"
	minimal := connector.Settings{"url": "https://hooks.example.com/deprov", "secret": secret}
	with := func(kv ...any) connector.Settings {
		s := connector.Settings{}
		for k, v := range minimal {
			s[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(s, kv[i].(string))
			} else {
				s[kv[i].(string)] = kv[i+1]
			}
		}
		return s
	}
	for _, tc := range []struct {
		name string
		s    connector.Settings
		want []string // one prefix per expected error, in order
	}{
		{"minimal", minimal, nil},
		{"everything", with("type", "webhook", "timeoutSeconds", 10, "caFile", "/etc/ssl/ca.pem",
			"headers", map[string]any{"Authorization": "Bearer x", "X-Tenant": "7"}), nil},
		{"http on loopback", with("url", "http://127.0.0.1:9000/hook"), nil},
		{"http on localhost", with("url", "http://localhost/hook"), nil},
		{"http on IPv6 loopback", with("url", "http://[::1]:9000/hook"), nil},
		{"query kept", with("url", "https://hooks.example.com/deprov?tenant=7"), nil},
		{"headers as strings", with("headers", map[string]string{"X-A": "b"}), nil},
		{"unexpanded references", with("url", "${env:HOOK_URL}", "secret", "${env:HOOK_SECRET}", "timeoutSeconds", "${env:T}",
			"headers", map[string]any{"Authorization": "${env:HOOK_AUTH}"}), nil},
		{"empty", connector.Settings{}, []string{"url: required", "secret: required"}},
		{"blank secret", with("secret", " "), []string{"secret: required"}},
		{"secret not a string", with("secret", 7), []string{"secret: must be a string"}},
		{"unknown key", with("token", "x"), []string{"token: unknown setting"}},
		{"plain http elsewhere", with("url", "http://hooks.example.com/deprov"), []string{"url: must use https:// for a host other than this machine's loopback"}},
		{"other scheme", with("url", "ftp://hooks.example.com"), []string{"url: must start with https://"}},
		{"no host", with("url", "https:///x"), []string{"url: has no host"}},
		{"credentials in url", with("url", "https://u:p@hooks.example.com"), []string{"url: must not hold credentials"}},
		{"timeout", with("timeoutSeconds", 601), []string{"timeoutSeconds: must be between 1 and 600"}},
		{"headers not a map", with("headers", "X-A: b"), []string{"headers: must be a map"}},
		{"header reserved", with("headers", map[string]any{"deprov-signature": "x", "Content-Type": "text/plain"}),
			[]string{"headers.Content-Type: set by deprov itself", "headers.deprov-signature: set by deprov itself"}},
		{"header name", with("headers", map[string]any{"X A": "b"}), []string{"headers.X A: not a header name"}},
		{"header value type", with("headers", map[string]any{"X-A": 1}), []string{"headers.X-A: must be a string"}},
		{"header value two lines", with("headers", map[string]any{"X-A": "a\r\nX-B: " + secret}), []string{"headers.X-A: must be one line"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := f.Validate(tc.s)
			if len(errs) != len(tc.want) {
				t.Fatalf("Validate = %v, want %d error(s) starting %q", errs, len(tc.want), tc.want)
			}
			for i, err := range errs {
				if !strings.HasPrefix(err.Error(), tc.want[i]) {
					t.Errorf("error %d = %q, want it to start with %q", i, err, tc.want[i])
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %d holds the secret: %q", i, err)
				}
			}
		})
	}
}

func TestOpenRefusesUnexpandedHeader(t *testing.T) {
	t.Parallel()
	f, _ := connector.Lookup("webhook")
	_, err := f.Open(connector.Settings{"url": "https://hooks.example.com", "secret": "k",
		"headers": map[string]any{"Authorization": "Bearer ${env:HOOK_TOKEN}"}})
	if err == nil || !strings.Contains(err.Error(), "headers.Authorization: reference not expanded") {
		t.Errorf("Open = %v", err)
	}
}
