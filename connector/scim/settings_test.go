package scim_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deprov/deprov/connector"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	f, ok := connector.Lookup("scim")
	if !ok {
		t.Fatal(`connector type "scim" is not registered`)
	}
	if len(f.Secrets) != 1 || f.Secrets[0] != "token" {
		t.Errorf("Secrets = %v, want [token]", f.Secrets)
	}
	const secret = "s3cret-value"
	ok1 := connector.Settings{"url": "https://app.example.com/scim/v2", "token": secret}
	with := func(kv ...any) connector.Settings {
		s := connector.Settings{}
		for k, v := range ok1 {
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
		{"minimal", ok1, nil},
		{"everything", with("type", "scim", "pageSize", 500, "timeoutSeconds", 10, "insecureSkipVerify", true), nil},
		{"http and trailing slash", with("url", "http://127.0.0.1:8880/scim/v2/"), nil},
		{"numbers as YAML or JSON give them", with("pageSize", int64(5), "timeoutSeconds", float64(60)), nil},
		{"numbers from expanded strings", with("pageSize", "20", "insecureSkipVerify", "false"), nil},
		{"unexpanded references", with("url", "${env:SCIM_URL}", "token", "${env:TOKEN}", "pageSize", "${env:PS}"), nil},
		{"ca file", with("caFile", "/etc/ssl/ca.pem"), nil},
		{"empty", connector.Settings{}, []string{"url: required", "token: required"}},
		{"blank token", with("token", "  "), []string{"token: required"}},
		{"token not a string", with("token", 42), []string{"token: must be a string"}},
		{"url scheme", with("url", "ftp://host/scim"), []string{"url: must start with http:// or https://"}},
		{"url without host", with("url", "https:///scim/v2"), []string{"url: has no host"}},
		{"url with credentials", with("url", "https://u:p@host/scim/v2"), []string{"url: must not hold credentials"}},
		{"url with query", with("url", "https://host/scim/v2?x=1"), []string{"url: must not have a query"}},
		{"url not parsable", with("url", "https://host:port/x"), []string{"url: not a URL"}},
		{"page size too small", with("pageSize", 0), []string{"pageSize: must be between 1 and 1000"}},
		{"page size too big", with("pageSize", 1001), []string{"pageSize: must be between 1 and 1000"}},
		{"page size fraction", with("pageSize", 2.5), []string{"pageSize: must be a whole number"}},
		{"page size word", with("pageSize", "many"), []string{"pageSize: must be a whole number"}},
		{"timeout zero", with("timeoutSeconds", 0), []string{"timeoutSeconds: must be between 1 and 600"}},
		{"timeout too long", with("timeoutSeconds", 3600), []string{"timeoutSeconds: must be between 1 and 600"}},
		{"insecure not a bool", with("insecureSkipVerify", "yes please"), []string{"insecureSkipVerify: must be true or false"}},
		{"insecure with a CA", with("insecureSkipVerify", true, "caFile", "/ca.pem"), []string{"insecureSkipVerify: cannot be true together with caFile"}},
		{"ca file not a string", with("caFile", []string{"a"}), []string{"caFile: must be a string"}},
		{"unknown keys", with("pagesize", 10, "bearer", "x"), []string{"bearer: unknown setting", "pagesize: unknown setting"}},
		{"every problem at once", connector.Settings{"url": "nope", "pageSize": -1, "timeoutSeconds": "x"}, []string{
			"url: must start with", "token: required", "pageSize: must be between", "timeoutSeconds: must be a whole number",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := f.Validate(tc.s)
			if len(errs) != len(tc.want) {
				t.Fatalf("Validate = %v, want %d errors %q", errs, len(tc.want), tc.want)
			}
			for i, err := range errs {
				if !strings.HasPrefix(err.Error(), tc.want[i]) {
					t.Errorf("error %d = %q, want prefix %q", i, err, tc.want[i])
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %d shows the token: %q", i, err)
				}
			}
		})
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	f, _ := connector.Lookup("scim")
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    connector.Settings
		want string // error substring; "" for success
	}{
		{"ok", connector.Settings{"url": "http://127.0.0.1:1/scim/v2", "token": "t"}, ""},
		{"invalid", connector.Settings{"url": "http://127.0.0.1:1/scim/v2"}, "token: required"},
		{"reference left unexpanded", connector.Settings{"url": "${env:URL}", "token": "t"}, "url: reference not expanded"},
		{"missing CA file", connector.Settings{"url": "https://h/scim/v2", "token": "t", "caFile": filepath.Join(dir, "none.pem")}, "caFile: open"},
		{"CA file without a certificate", connector.Settings{"url": "https://h/scim/v2", "token": "t", "caFile": notPEM}, "caFile: no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := f.Open(tc.s)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Open = %v", err)
			case tc.want == "":
				_ = c.(connector.Closer).Close()
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Open = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
