package ldap_test

import (
	"context"
	"strings"
	"testing"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/internal/ldaptarget"
)

// TestTLS reaches a directory over LDAPS and StartTLS with a CA of the
// test's own, and refuses what it cannot trust with an error that a retry
// would not fix.
func TestTLS(t *testing.T) {
	t.Parallel()
	tg := ldaptarget.Start(t, ldaptarget.WithTLS())
	tg.AddUser(t, "alice", "pw")
	plainAsLDAPS := strings.Replace(tg.URL, "ldap://", "ldaps://", 1)

	for _, tc := range []struct {
		name      string
		extra     connector.Settings
		wantErr   string // empty: listing works
		retryable bool
	}{
		{"ldaps with caFile", connector.Settings{"url": tg.LDAPSURL, "caFile": tg.CAFile}, "", false},
		{"startTLS with caFile", connector.Settings{"startTLS": true, "caFile": tg.CAFile}, "", false},
		{"ldaps with insecureSkipVerify", connector.Settings{"url": tg.LDAPSURL, "insecureSkipVerify": true}, "", false},
		{"ldaps without the CA", connector.Settings{"url": tg.LDAPSURL}, "set caFile to the CA that signed the directory's certificate", false},
		{"startTLS without the CA", connector.Settings{"startTLS": true}, "set caFile to the CA that signed the directory's certificate", false},
		// slapd hangs up, as a server going down would: retryable, with a hint.
		{"ldaps on the plain port", connector.Settings{"url": plainAsLDAPS, "caFile": tg.CAFile}, "is it the LDAPS port?", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := settings(tg, "lock")
			for k, v := range tc.extra {
				s[k] = v
			}
			c := open(t, s)
			n := 0
			err := c.ListAccounts(context.Background(), func(account.Account) error { n++; return nil })
			switch {
			case tc.wantErr == "" && (err != nil || n != 1):
				t.Errorf("ListAccounts = %v after %d account(s), want alice", err, n)
			case tc.wantErr == "":
			case err == nil:
				t.Errorf("ListAccounts succeeded, want %q", tc.wantErr)
			case !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("ListAccounts = %v, want an error saying %q", err, tc.wantErr)
			case connector.IsRetryable(err) != tc.retryable:
				t.Errorf("ListAccounts = %v: retryable %v", err, connector.IsRetryable(err))
			}
		})
	}
}
