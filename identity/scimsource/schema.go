package scimsource

import (
	"fmt"
	"slices"
	"strings"

	"github.com/deprov/deprov/config"
)

// Schema and message URNs (RFC 7643 §8.7, RFC 7644 §3).
const (
	URNUser          = "urn:ietf:params:scim:schemas:core:2.0:User"
	URNEnterprise    = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	urnError         = "urn:ietf:params:scim:api:messages:2.0:Error"
	urnListResponse  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	urnPatchOp       = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	urnSPConfig      = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	urnResourceType  = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	urnSchema        = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	defaultStatusKey = "active"
	// DefaultEndDate is the end date attribute of a source whose mapping
	// names none: the enterprise extension's leave date, as Workday, SAP
	// SuccessFactors and Entra ID send it.
	DefaultEndDate = URNEnterprise + ":employeeLeaveDate"
)

// attrType is a SCIM attribute data type (RFC 7643 §2.3).
type attrType string

const (
	tString    attrType = "string"
	tBoolean   attrType = "boolean"
	tComplex   attrType = "complex"
	tDateTime  attrType = "dateTime"
	tReference attrType = "reference"
	tBinary    attrType = "binary"
)

// attr is one attribute definition, as /Schemas describes it.
type attr struct {
	name        string
	typ         attrType
	multi       bool
	required    bool
	caseExact   bool
	mutability  string // readWrite (when empty), readOnly, writeOnly, immutable
	returned    string // default (when empty), always, never, request
	uniqueness  string // none (when empty), server, global
	description string
	sub         []*attr
	canonical   []string
	refTypes    []string
	// anyScalar takes a boolean or number too, kept as text: the
	// attributes of an open extension, whose types deprov does not know.
	anyScalar bool
}

func (a *attr) readOnly() bool { return a.mutability == "readOnly" }

// simple is a single-valued attribute that is not complex: the kind
// deprov keeps among an identity's attributes.
func (a *attr) simple() bool { return !a.multi && a.typ != tComplex }

// find looks a sub-attribute up by name, case-insensitively (RFC 7643 §2.1).
func (a *attr) find(name string) *attr { return findAttr(a.sub, name) }

func findAttr(as []*attr, name string) *attr {
	for _, a := range as {
		if strings.EqualFold(a.name, name) {
			return a
		}
	}
	return nil
}

// schema is a resource schema or extension.
type schema struct {
	id          string
	name        string
	description string
	attrs       []*attr
	// open marks an extension the source's mapping declares but deprov
	// knows nothing else of: it takes any simple attribute, kept as text.
	open bool
}

// find looks an attribute up by name; an open extension takes any name.
func (s *schema) find(name string) *attr {
	if a := findAttr(s.attrs, name); a != nil {
		return a
	}
	if s.open && validName(name) {
		return &attr{name: name, typ: tString, anyScalar: true}
	}
	return nil
}

// validName is an attribute name as RFC 7643 §2.1 (ATTRNAME) allows.
func validName(n string) bool {
	if n == "" || len(n) > 128 {
		return false
	}
	for i, c := range n {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

func str(name, desc string) *attr { return &attr{name: name, typ: tString, description: desc} }

func boolean(name, desc string) *attr { return &attr{name: name, typ: tBoolean, description: desc} }

func ref(name, desc string, types ...string) *attr {
	return &attr{name: name, typ: tReference, description: desc, refTypes: types}
}

// multiValued is the usual value/display/type/primary multi-valued complex attribute.
func multiValued(name, desc string, value *attr, types ...string) *attr {
	return &attr{name: name, typ: tComplex, multi: true, description: desc, sub: []*attr{
		value,
		str("display", "A human-readable name, primarily used for display purposes."),
		{name: "type", typ: tString, description: "A label indicating the attribute's function.", canonical: types},
		boolean("primary", "Indicates the 'primary' or preferred attribute value."),
	}}
}

// common are the attributes every resource has (RFC 7643 §3.1); they are
// not part of the User schema document.
var common = []*attr{
	{name: "id", typ: tString, caseExact: true, mutability: "readOnly", returned: "always", uniqueness: "server",
		description: "deprov's identifier of the user: the externalId it was created with, or a generated UUID."},
	{name: "externalId", typ: tString, caseExact: true,
		description: "The provisioning client's identifier of the user."},
	{name: "meta", typ: tComplex, mutability: "readOnly", description: "Resource metadata.", sub: []*attr{
		{name: "resourceType", typ: tString, caseExact: true, mutability: "readOnly"},
		{name: "created", typ: tDateTime, mutability: "readOnly"},
		{name: "lastModified", typ: tDateTime, mutability: "readOnly"},
		{name: "location", typ: tReference, mutability: "readOnly", refTypes: []string{"uri"}},
		{name: "version", typ: tString, caseExact: true, mutability: "readOnly"},
	}},
}

// coreUser is the User schema of RFC 7643 §4.1.
var coreUser = &schema{
	id:          URNUser,
	name:        "User",
	description: "User Account",
	attrs: []*attr{
		{name: "userName", typ: tString, required: true, uniqueness: "server",
			description: "Unique identifier for the User, typically used to authenticate; unique within the source, case-insensitively. REQUIRED."},
		{name: "name", typ: tComplex, description: "The components of the user's real name.", sub: []*attr{
			str("formatted", "The full name, formatted for display."),
			str("familyName", "The family name of the User."),
			str("givenName", "The given name of the User."),
			str("middleName", "The middle name(s) of the User."),
			str("honorificPrefix", "The honorific prefix(es) of the User."),
			str("honorificSuffix", "The honorific suffix(es) of the User."),
		}},
		str("displayName", "The name of the User, suitable for display to end-users."),
		str("nickName", "The casual way to address the user."),
		ref("profileUrl", "A fully qualified URL pointing to a page representing the User's online profile.", "external"),
		str("title", "The user's title, such as \"Vice President\"."),
		str("userType", "Identifies the relationship between the organization and the user."),
		str("preferredLanguage", "The User's preferred written or spoken language."),
		str("locale", "Used to indicate the User's default location."),
		str("timezone", "The User's time zone in the 'Olson' time zone database format."),
		boolean("active", "The User's administrative status; false makes the identity's status the source's inactiveStatus."),
		{name: "password", typ: tString, mutability: "writeOnly", returned: "never",
			description: "Accepted and discarded: deprov never stores passwords."},
		multiValued("emails", "Email addresses for the user; the primary one (else the first) is the identity's email.",
			str("value", "Email address for the User."), "work", "home", "other"),
		multiValued("phoneNumbers", "Phone numbers for the User (accepted, not stored).",
			str("value", "Phone number of the User."), "work", "home", "mobile", "fax", "pager", "other"),
		multiValued("ims", "Instant messaging addresses for the User (accepted, not stored).",
			str("value", "Instant messaging address for the User."), "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
		multiValued("photos", "URLs of photos of the User (accepted, not stored).",
			ref("value", "URL of a photo of the User.", "external"), "photo", "thumbnail"),
		{name: "addresses", typ: tComplex, multi: true, description: "A physical mailing address for this User (accepted, not stored).", sub: []*attr{
			str("formatted", "The full mailing address, formatted for display."),
			str("streetAddress", "The full street address component."),
			str("locality", "The city or locality component."),
			str("region", "The state or region component."),
			str("postalCode", "The zip code or postal code component."),
			str("country", "The country name component."),
			{name: "type", typ: tString, description: "A label indicating the attribute's function.", canonical: []string{"work", "home", "other"}},
			boolean("primary", "Indicates the 'primary' or preferred mailing address."),
		}},
		{name: "groups", typ: tComplex, multi: true, mutability: "readOnly",
			description: "A list of groups to which the user belongs (read-only; deprov keeps none).", sub: []*attr{
				{name: "value", typ: tString, mutability: "readOnly"},
				{name: "$ref", typ: tReference, mutability: "readOnly", refTypes: []string{"User", "Group"}},
				{name: "display", typ: tString, mutability: "readOnly"},
				{name: "type", typ: tString, mutability: "readOnly", canonical: []string{"direct", "indirect"}},
			}},
		multiValued("entitlements", "A list of entitlements for the User (accepted, not stored).", str("value", "The value of an entitlement.")),
		multiValued("roles", "A list of roles for the User (accepted, not stored).", str("value", "The value of a role.")),
		multiValued("x509Certificates", "A list of certificates issued to the User (accepted, not stored).",
			&attr{name: "value", typ: tBinary, description: "The value of an X.509 certificate."}),
	},
}

// enterpriseUser is the Enterprise User extension of RFC 7643 §4.3.
var enterpriseUser = &schema{
	id:          URNEnterprise,
	name:        "EnterpriseUser",
	description: "Enterprise User",
	attrs: []*attr{
		str("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
		str("costCenter", "Identifies the name of a cost center."),
		str("organization", "Identifies the name of an organization."),
		str("division", "Identifies the name of a division."),
		str("department", "Identifies the name of a department; the identity's department."),
		{name: "manager", typ: tComplex, description: "The User's manager; its value is the identity's manager.", sub: []*attr{
			str("value", "The id of the SCIM resource representing the User's manager."),
			ref("$ref", "The URI of the SCIM resource representing the User's manager.", "User"),
			{name: "displayName", typ: tString, mutability: "readOnly", description: "The displayName of the User's manager."},
		}},
	},
}

// attrRef names an attribute of a schema by the path a mapping gives.
type attrRef struct {
	schema *schema
	attr   *attr
	// path is the path as configured, for messages.
	path string
}

// view is one source's SCIM service: the schemas its pushes are checked
// against (core, enterprise and what its mapping declares) and how they
// become an identity.
type view struct {
	source config.Source
	// schemas: core first, then the extensions.
	schemas []*schema
	// status is the attribute read as text status; nil when it is active.
	status *attrRef
	// endDate is the attribute read as the end date: the mapping's, else
	// DefaultEndDate.
	endDate *attrRef
	// activeStatus, inactiveStatus and deletedStatus are the mapping's
	// values with their defaults.
	activeStatus, inactiveStatus, deletedStatus string
}

// CheckMapping reports what is wrong with a scim source's mapping
// ("scim.endDate: …"), for validation at apply time: the endpoint answers
// a source whose mapping does not compile with 500 errors.
func CheckMapping(src config.Source) error {
	_, err := newView(src)
	return err
}

// newView compiles a source's mapping. A mapping path is an attribute of
// the core schema ("userType"), or one prefixed by a schema URN
// ("urn:…:enterprise:2.0:User:employeeLeaveDate"); an attribute the
// schema does not have is declared by the mapping, and a URN that is
// neither core nor enterprise declares a custom extension. An unset
// endDate is DefaultEndDate.
func newView(src config.Source) (*view, error) {
	m := config.SCIMMapping{}
	if src.SCIM != nil {
		m = *src.SCIM
	}
	v := &view{
		source:         src,
		schemas:        []*schema{cloneSchema(coreUser), cloneSchema(enterpriseUser)},
		activeStatus:   or(m.ActiveStatus, "ACTIVE"),
		inactiveStatus: or(m.InactiveStatus, "INACTIVE"),
		deletedStatus:  or(m.DeletedStatus, "DELETED"),
	}
	if p := strings.TrimSpace(m.Status); p != "" {
		r, err := v.declare(p, tString, "The user's status as the source says (deprov's status mapping).")
		if err != nil {
			return nil, fmt.Errorf("scim.status: %w", err)
		}
		if r.schema.id != URNUser || !strings.EqualFold(r.attr.name, defaultStatusKey) {
			v.status = r
		}
	}
	p := strings.TrimSpace(m.EndDate)
	defaulted := p == ""
	if defaulted {
		p = DefaultEndDate
	}
	r, err := v.declare(p, tDateTime, "The user's last day: an RFC 3339 date (2026-11-30) or date-time (deprov's end date mapping).")
	if err != nil {
		return nil, fmt.Errorf("scim.endDate: %w", err)
	}
	if v.status != nil && r.attr == v.status.attr {
		if defaulted {
			return nil, fmt.Errorf("scim.endDate: the default %q is also the status attribute; name another end date attribute", p)
		}
		return nil, fmt.Errorf("scim.endDate: %q is also the status attribute", p)
	}
	if r.schema.id == URNUser && strings.EqualFold(r.attr.name, defaultStatusKey) {
		return nil, fmt.Errorf("scim.endDate: %q is a boolean", p)
	}
	v.endDate = r
	return v, nil
}

func or(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

func cloneSchema(s *schema) *schema {
	c := *s
	c.attrs = slices.Clone(s.attrs)
	return &c
}

// declare finds or adds the attribute a mapping path names.
func (v *view) declare(path string, typ attrType, desc string) (*attrRef, error) {
	urn, name := splitMappingPath(path)
	if !validName(name) {
		return nil, fmt.Errorf("%q is not a simple attribute path (NAME or URN:NAME)", path)
	}
	s := v.schema(urn)
	if s == nil {
		s = &schema{id: urn, name: urn[strings.LastIndex(urn, ":")+1:], description: "Custom extension declared by the source's mapping", open: true}
		v.schemas = append(v.schemas, s)
	}
	if s.id == URNUser && findAttr(common, name) != nil {
		return nil, fmt.Errorf("%q cannot be mapped", path)
	}
	a := findAttr(s.attrs, name)
	switch {
	case a == nil:
		a = &attr{name: name, typ: typ, description: desc}
		s.attrs = append(s.attrs, a)
	case a.typ == tBoolean && strings.EqualFold(name, defaultStatusKey) && s.id == URNUser:
		// active: the default status mapping.
	case !a.simple() || a.typ == tBoolean || a.readOnly() || a.mutability == "writeOnly" || strings.EqualFold(a.name, "userName") || strings.EqualFold(a.name, "displayName"):
		return nil, fmt.Errorf("%q cannot be mapped: it is not a free text attribute", path)
	}
	return &attrRef{schema: s, attr: a, path: path}, nil
}

// splitMappingPath splits "urn:a:b:User:attr" into the URN and the
// attribute; a path without a URN is in the core User schema.
func splitMappingPath(p string) (urn, name string) {
	if !hasURNPrefix(p) {
		return URNUser, p
	}
	i := strings.LastIndex(p, ":")
	return p[:i], p[i+1:]
}

func hasURNPrefix(s string) bool { return len(s) > 4 && strings.EqualFold(s[:4], "urn:") }

// schema finds one of the view's schemas by URN, case-insensitively.
func (v *view) schema(urn string) *schema {
	for _, s := range v.schemas {
		if strings.EqualFold(s.id, urn) {
			return s
		}
	}
	return nil
}

// extensions are the schemas other than core.
func (v *view) extensions() []*schema { return v.schemas[1:] }
