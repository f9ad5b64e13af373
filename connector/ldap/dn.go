package ldap

import (
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// DNs are compared the way directories compare them (distinguishedNameMatch
// with case-insensitive values, as uid, cn, ou and dc are): "UID=Alice, ou=People"
// and "uid=alice,ou=people" are the same entry.

// canonical is a DN's comparison key; a DN that does not parse is only
// lowercased and trimmed.
func canonical(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	return strings.ToLower(d.String())
}

func sameDN(a, b string) bool { return canonical(a) == canonical(b) }

// under reports whether dn lies strictly below base.
func under(dn, base string) bool {
	if base == "" {
		return false
	}
	d, err1 := goldap.ParseDN(dn)
	b, err2 := goldap.ParseDN(base)
	if err1 != nil || err2 != nil {
		return strings.HasSuffix(canonical(dn), ","+canonical(base))
	}
	return b.AncestorOfFold(d)
}

// within reports whether dn is base or lies below it.
func within(dn, base string) bool { return sameDN(dn, base) || under(dn, base) }

// splitRDN cuts a DN at its first unescaped comma into the leftmost RDN, as
// written, and the parent DN.
func splitRDN(dn string) (rdn, parent string) {
	escaped := false
	for i, r := range dn {
		switch {
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case r == ',':
			return strings.TrimSpace(dn[:i]), strings.TrimSpace(dn[i+1:])
		}
	}
	return strings.TrimSpace(dn), ""
}

// firstValue is the value of a DN's leftmost RDN (alice for
// uid=alice,ou=people), or the DN itself when it does not parse.
func firstValue(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 || len(d.RDNs[0].Attributes) == 0 {
		return dn
	}
	return d.RDNs[0].Attributes[0].Value
}
