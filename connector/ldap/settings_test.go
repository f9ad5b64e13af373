package ldap_test

import (
	"strings"
	"testing"

	"github.com/deprov/deprov/connector"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	f, ok := connector.Lookup("ldap")
	if !ok {
		t.Fatal(`connector type "ldap" is not registered`)
	}
	if len(f.Secrets) != 1 || f.Secrets[0] != "bindPassword" {
		t.Errorf("Secrets = %v, want [bindPassword]", f.Secrets)
	}
	const secret = "s3cret-value"
	minimal := connector.Settings{
		"url": "ldaps://ldap.example.com", "bindDN": "cn=deprov,ou=services,dc=example,dc=com",
		"bindPassword": secret, "baseDN": "ou=people,dc=example,dc=com",
	}
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
		{"everything", with("type", "ldap", "url", "ldap://127.0.0.1:3890", "userFilter", "(&(objectClass=person)(!(ou=robots)))",
			"userAttribute", "sAMAccountName", "groupBaseDN", "ou=groups,dc=example,dc=com", "groupFilter", "(objectClass=groupOfUniqueNames)",
			"memberAttribute", "uniqueMember", "disableMode", "move", "disabledDN", "ou=disabled,dc=example,dc=com",
			"startTLS", true, "caFile", "/etc/ssl/ca.pem", "timeoutSeconds", 10, "pageSize", 1000), nil},
		{"port and trailing slash", with("url", "ldaps://ldap.example.com:636/"), nil},
		{"numbers and flags as strings", with("pageSize", "20", "timeoutSeconds", float64(60), "insecureSkipVerify", "true"), nil},
		{"unexpanded references", with("url", "${env:LDAP_URL}", "bindPassword", "${env:LDAP_PASSWORD}", "baseDN", "${env:BASE}", "startTLS", "${env:TLS}"), nil},
		{"lock mode may name a disabled OU", with("disableMode", "lock", "disabledDN", "ou=disabled,dc=example,dc=com"), nil},
		{"empty", connector.Settings{}, []string{"url: required", "bindDN: required", "bindPassword: required", "baseDN: required"}},
		{"blank password", with("bindPassword", "  "), []string{"bindPassword: required"}},
		{"password not a string", with("bindPassword", 42), []string{"bindPassword: must be a string"}},
		{"unknown key", with("bindDn", "cn=x"), []string{"bindDn: unknown setting"}},
		{"url scheme", with("url", "https://ldap.example.com"), []string{"url: must start with ldap:// or ldaps://"}},
		{"url without host", with("url", "ldap://"), []string{"url: has no host"}},
		{"url with a DN", with("url", "ldap://host/dc=example,dc=com"), []string{"url: must be only scheme, host and port"}},
		{"url with credentials", with("url", "ldap://admin:pw@host"), []string{"url: must not hold credentials"}},
		{"url with bad port", with("url", "ldap://host:99999"), []string{"url: bad port"}},
		{"bind DN", with("bindDN", "not a dn"), []string{"bindDN: not a DN"}},
		{"base DN", with("baseDN", "ou=people,,dc=x"), []string{"baseDN: not a DN"}},
		{"group base DN", with("groupBaseDN", "groups"), []string{"groupBaseDN: not a DN"}},
		{"filter without parentheses", with("userFilter", "objectClass=person"), []string{"userFilter: must be in parentheses"}},
		{"filter unbalanced", with("groupFilter", "(&(objectClass=groupOfNames)"), []string{"groupFilter: not an LDAP filter"}},
		{"attribute name", with("userAttribute", "user name"), []string{"userAttribute: not an attribute name"}},
		{"memberUid", with("memberAttribute", "memberUid"), []string{"memberAttribute: memberUid holds user names"}},
		{"disable mode", with("disableMode", "delete"), []string{"disableMode: must be lock or move"}},
		{"move without disabledDN", with("disableMode", "move"), []string{"disabledDN: required"}},
		{"disabledDN is baseDN", with("disableMode", "move", "disabledDN", "OU=People,dc=example,dc=com"), []string{"disabledDN: must differ from baseDN"}},
		{"startTLS with ldaps", with("startTLS", true), []string{"startTLS: cannot be true with ldaps://"}},
		{"caFile without TLS", with("url", "ldap://host", "caFile", "/ca.pem"), []string{"caFile: only used with ldaps:// or startTLS: true"}},
		{"insecure without TLS", with("url", "ldap://host", "insecureSkipVerify", true), []string{"insecureSkipVerify: only used with ldaps://"}},
		{"insecure and caFile", with("caFile", "/ca.pem", "insecureSkipVerify", true), []string{"insecureSkipVerify: cannot be true together with caFile"}},
		{"flag word", with("startTLS", "yes please"), []string{"startTLS: must be true or false"}},
		{"timeout", with("timeoutSeconds", 0), []string{"timeoutSeconds: must be between 1 and 600"}},
		{"page size", with("pageSize", 5001), []string{"pageSize: must be between 1 and 5000"}},
		{"page size fraction", with("pageSize", 2.5), []string{"pageSize: must be a whole number"}},
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
					t.Errorf("error %d holds the password: %q", i, err)
				}
			}
		})
	}
}
