package ldaptarget

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// UserDN is the DN AddUser gives uid.
func UserDN(uid string) string { return "uid=" + ldap.EscapeDN(uid) + "," + PeopleDN }

// GroupDN is the DN AddGroup gives cn.
func GroupDN(cn string) string { return "cn=" + ldap.EscapeDN(cn) + "," + GroupsDN }

// AddUser adds an inetOrgPerson under PeopleDN with mail uid@example.com
// and this password, and returns its DN.
func (tg *Target) AddUser(t testing.TB, uid, password string) string {
	t.Helper()
	dn := UserDN(uid)
	tg.must(t, tg.add(dn, map[string][]string{
		"objectClass":  {"inetOrgPerson"},
		"uid":          {uid},
		"cn":           {"User " + uid},
		"sn":           {uid},
		"mail":         {uid + "@example.com"},
		"userPassword": {password},
	}))
	return dn
}

// AddGroup adds a groupOfNames under GroupsDN with these member DNs (at
// least one: the class requires it) and returns its DN.
func (tg *Target) AddGroup(t testing.TB, cn string, memberDNs ...string) string {
	t.Helper()
	if len(memberDNs) == 0 {
		t.Fatalf("ldaptarget: group %s needs a member (groupOfNames requires one)", cn)
	}
	dn := GroupDN(cn)
	tg.must(t, tg.add(dn, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {cn}, "member": memberDNs}))
	return dn
}

// Entry reads an entry with these attributes (operational ones such as
// pwdAccountLockedTime by name); found is false when there is none.
func (tg *Target) Entry(t testing.TB, dn string, attrs ...string) (entry map[string][]string, found bool) {
	t.Helper()
	res, err := tg.conn(t).Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", attrs, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, false
	case err != nil:
		t.Fatalf("ldaptarget: read %s: %v", dn, err)
	case len(res.Entries) != 1:
		t.Fatalf("ldaptarget: read %s: %d entries", dn, len(res.Entries))
	}
	entry = map[string][]string{}
	for _, a := range res.Entries[0].Attributes {
		entry[a.Name] = a.Values
	}
	return entry, true
}

// FindUser finds the entry with this uid anywhere under Suffix.
func (tg *Target) FindUser(t testing.TB, uid string) (dn string, found bool) {
	t.Helper()
	dns := tg.search(t, Suffix, fmt.Sprintf("(uid=%s)", ldap.EscapeFilter(uid)), "1.1")
	switch len(dns) {
	case 0:
		return "", false
	case 1:
		return dns[0].DN, true
	}
	t.Fatalf("ldaptarget: %d entries with uid=%s", len(dns), uid)
	return "", false
}

// GroupsOf lists the cn of every group under GroupsDN whose member holds dn.
func (tg *Target) GroupsOf(t testing.TB, dn string) []string {
	t.Helper()
	var out []string
	for _, e := range tg.search(t, GroupsDN, fmt.Sprintf("(member=%s)", ldap.EscapeFilter(dn)), "cn") {
		out = append(out, e.GetAttributeValue("cn"))
	}
	slices.Sort(out)
	return out
}

// GroupMembers lists a group's member values as stored.
func (tg *Target) GroupMembers(t testing.TB, groupDN string) []string {
	t.Helper()
	e, found := tg.Entry(t, groupDN, "member")
	if !found {
		t.Fatalf("ldaptarget: group %s not found", groupDN)
	}
	return e["member"]
}

// CanBind tells whether dn can bind with password: false for a wrong
// password, a missing entry, or a locked account.
func (tg *Target) CanBind(t testing.TB, dn, password string) bool {
	t.Helper()
	conn, err := ldap.DialURL(tg.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatalf("ldaptarget: connect: %v", err)
	}
	defer conn.Close()
	err = conn.Bind(dn, password)
	switch {
	case err == nil:
		return true
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return false
	}
	t.Fatalf("ldaptarget: bind as %s: %v", dn, err)
	return false
}

// Modify applies a modification as the administrator, for tests that set
// up states the helpers do not.
func (tg *Target) Modify(t testing.TB, req *ldap.ModifyRequest) {
	t.Helper()
	tg.must(t, tg.conn(t).Modify(req))
}

func (tg *Target) search(t testing.TB, base, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	res, err := tg.conn(t).Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, nil))
	if err != nil {
		t.Fatalf("ldaptarget: search %s %s: %v", base, filter, err)
	}
	return res.Entries
}

func (tg *Target) add(dn string, attrs map[string][]string) error {
	tg.mu.Lock()
	conn := tg.admin
	tg.mu.Unlock()
	if conn == nil {
		return fmt.Errorf("add %s: target is stopped", dn)
	}
	req := ldap.NewAddRequest(dn, nil)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		req.Attribute(k, attrs[k])
	}
	if err := conn.Add(req); err != nil {
		return fmt.Errorf("add %s: %w", dn, err)
	}
	return nil
}

// conn is the administrator's connection.
func (tg *Target) conn(t testing.TB) *ldap.Conn {
	t.Helper()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.admin == nil {
		t.Fatal("ldaptarget: the target is stopped")
	}
	return tg.admin
}

func (tg *Target) must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("ldaptarget: %v", err)
	}
}

// IsUnder reports whether dn lies under base (case-insensitively, as DNs
// compare for these tests).
func IsUnder(dn, base string) bool {
	d, err1 := ldap.ParseDN(dn)
	b, err2 := ldap.ParseDN(base)
	if err1 != nil || err2 != nil {
		return strings.HasSuffix(strings.ToLower(dn), ","+strings.ToLower(base))
	}
	return b.AncestorOfFold(d)
}
