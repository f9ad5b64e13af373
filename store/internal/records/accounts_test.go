package records

import (
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/store"
)

func TestNewAccountRow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	row, err := NewAccountRow("ldap", account.Account{NativeID: "uid=a", IdentityID: "hr/a",
		Entitlements: []account.Entitlement{{ID: "admins"}}, Attributes: map[string]string{"x": "1"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if row.ApplicationID != "ldap" || !row.SeenAt.Equal(now) || row.Attrs != `{"x":"1"}` {
		t.Fatalf("row %+v", row)
	}
	var back account.Account
	if err := DecodeAccount(&back, row.Ents, row.Attrs); err != nil {
		t.Fatal(err)
	}
	if len(back.Entitlements) != 1 || back.Entitlements[0].ID != "admins" || back.Attributes["x"] != "1" {
		t.Fatalf("read back %+v", back)
	}
	if bare, _ := NewAccountRow("ldap", account.Account{NativeID: "b"}, now); bare.Ents != "[]" || bare.Attrs != "{}" {
		t.Fatalf("bare row %+v", bare)
	}
	for name, a := range map[string]account.Account{
		"other application": {ApplicationID: "scim", NativeID: "a"},
		"no native id":      {UserName: "a"},
	} {
		if _, err := NewAccountRow("ldap", a, now); err == nil {
			t.Errorf("%s: no error", name)
		}
	}

	var res store.AggregateResult
	TallyAccount(&res, row)
	TallyAccount(&res, AccountRow{})
	if res.Accounts != 2 || res.Correlated != 1 || res.Uncorrelated != 1 {
		t.Fatalf("tally %+v", res)
	}
}
