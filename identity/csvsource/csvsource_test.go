package csvsource

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/identity"
)

// parseErrors returns the *ParseErrors in err, failing on anything else.
func parseErrors(t *testing.T, err error) []*ParseError {
	t.Helper()
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]*ParseError, len(list))
	for i, e := range list {
		pe, ok := e.(*ParseError)
		if !ok {
			t.Fatalf("error %d is %T (%v), want *ParseError", i, e, e)
		}
		out[i] = pe
	}
	return out
}

func endDate(t *testing.T, s string) identity.EndDate {
	t.Helper()
	d, err := identity.ParseEndDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// hrMapping is a typical HR export's mapping.
var hrMapping = Mapping{
	"externalId":  "emp_id",
	"userName":    "login",
	"email":       "mail",
	"displayName": "full_name",
	"status":      "state",
	"endDate":     "end_date",
	"department":  "dept",
	"manager":     "boss",
}

func TestRead(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		csv     string
		mapping Mapping
		want    func(t *testing.T) []identity.Identity
	}{
		{
			name: "columns named after fields",
			csv:  "externalId,userName,email,displayName,status,endDate,department,manager\n1,jdoe,j@example.com,Jane Doe,active,2026-11-30,Finance,9\n",
			want: func(t *testing.T) []identity.Identity {
				return []identity.Identity{{
					SourceID: "hr", ExternalID: "1", UserName: "jdoe", Email: "j@example.com", DisplayName: "Jane Doe",
					Status: "active", EndDate: endDate(t, "2026-11-30"), Department: "Finance", Manager: "9",
				}}
			},
		},
		{
			name:    "mapped headers, the rest are attributes",
			csv:     "emp_id,login,mail,full_name,state,end_date,dept,boss,cost_center\nE1,jdoe,j@example.com,Jane Doe,active,,Finance,E0,CC-1\n",
			mapping: hrMapping,
			want: func(t *testing.T) []identity.Identity {
				return []identity.Identity{{
					SourceID: "hr", ExternalID: "E1", UserName: "jdoe", Email: "j@example.com", DisplayName: "Jane Doe",
					Status: "active", Department: "Finance", Manager: "E0", Attributes: map[string]string{"cost_center": "CC-1"},
				}}
			},
		},
		{
			name:    "mapping and field-named columns mix",
			csv:     "id,userName,email,mail\n7,jdoe,j@example.com,other@example.com\n",
			mapping: Mapping{"externalId": "id"},
			want: func(t *testing.T) []identity.Identity {
				return []identity.Identity{{
					SourceID: "hr", ExternalID: "7", UserName: "jdoe", Email: "j@example.com",
					Attributes: map[string]string{"mail": "other@example.com"},
				}}
			},
		},
		{
			name:    "a field mapped elsewhere leaves its namesake column as an attribute",
			csv:     "externalId,userName,email,mail\n7,jdoe,old@example.com,new@example.com\n",
			mapping: Mapping{"email": "mail"},
			want: func(t *testing.T) []identity.Identity {
				return []identity.Identity{{
					SourceID: "hr", ExternalID: "7", UserName: "jdoe", Email: "new@example.com",
					Attributes: map[string]string{"email": "old@example.com"},
				}}
			},
		},
		{
			name: "byte order mark",
			csv:  "\uFEFFexternalId,userName\n1,jdoe\n",
			want: func(t *testing.T) []identity.Identity {
				return []identity.Identity{{SourceID: "hr", ExternalID: "1", UserName: "jdoe"}}
			},
		},
		{
			name:    "header and values trimmed",
			csv:     " emp_id ,\tlogin , team \n  1 , jdoe ,  blue  \n",
			mapping: Mapping{"externalId": "emp_id", "userName": " login"},
			want: func(t *testing.T) []identity.Identity {
				return []identity.Identity{{SourceID: "hr", ExternalID: "1", UserName: "jdoe", Attributes: map[string]string{"team": "blue"}}}
			},
		},
		{
			name: "quoted fields with commas, quotes and newlines",
			csv:  "externalId,userName,displayName,note\n1,jdoe,\"Doe, Jane\",\"says \"\"hi\"\",\nthen leaves\"\n2, \"rroe\",Roe,\n",
			want: func(t *testing.T) []identity.Identity {
				return []identity.Identity{
					{SourceID: "hr", ExternalID: "1", UserName: "jdoe", DisplayName: "Doe, Jane", Attributes: map[string]string{"note": "says \"hi\",\nthen leaves"}},
					{SourceID: "hr", ExternalID: "2", UserName: "rroe", DisplayName: "Roe", Attributes: map[string]string{"note": ""}},
				}
			},
		},
		{
			name: "empty attribute values are kept",
			csv:  "externalId,userName,a,b\n1,jdoe,,x\n",
			want: func(t *testing.T) []identity.Identity {
				return []identity.Identity{{SourceID: "hr", ExternalID: "1", UserName: "jdoe", Attributes: map[string]string{"a": "", "b": "x"}}}
			},
		},
		{
			name: "CRLF and blank lines",
			csv:  "externalId,userName\r\n\r\n1,jdoe\r\n\r\n2,rroe\r\n",
			want: func(t *testing.T) []identity.Identity {
				return []identity.Identity{{SourceID: "hr", ExternalID: "1", UserName: "jdoe"}, {SourceID: "hr", ExternalID: "2", UserName: "rroe"}}
			},
		},
		{
			name: "end date as date-time",
			csv:  "externalId,userName,endDate\n1,jdoe,2026-11-30T17:00:00+01:00\n",
			want: func(t *testing.T) []identity.Identity {
				return []identity.Identity{{SourceID: "hr", ExternalID: "1", UserName: "jdoe", EndDate: identity.EndDate{Time: time.Date(2026, 11, 30, 17, 0, 0, 0, time.FixedZone("", 3600))}}}
			},
		},
		{
			name: "header only",
			csv:  "externalId,userName\n",
			want: func(t *testing.T) []identity.Identity { return nil },
		},
		{
			name: "header only, no newline",
			csv:  "externalId,userName",
			want: func(t *testing.T) []identity.Identity { return nil },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Read(strings.NewReader(tc.csv), "hr", tc.mapping)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want(t)
			if len(got) != len(want) {
				t.Fatalf("got %d identities, want %d: %+v", len(got), len(want), got)
			}
			for i := range want {
				if !equalIdentity(got[i], want[i]) {
					t.Errorf("identity %d:\n got  %+v\n want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

// equalIdentity compares end dates as instants.
func equalIdentity(a, b identity.Identity) bool {
	if !a.EndDate.Time.Equal(b.EndDate.Time) || a.EndDate.DateOnly != b.EndDate.DateOnly {
		return false
	}
	a.EndDate, b.EndDate = identity.EndDate{}, identity.EndDate{}
	return reflect.DeepEqual(a, b)
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		csv     string
		mapping Mapping
		want    []string // each ParseError's message, in order
	}{
		{name: "empty file", csv: "", want: []string{"empty file: no header"}},
		{name: "byte order mark only", csv: "\uFEFF", want: []string{"empty file: no header"}},
		{name: "blank lines only", csv: "\n\r\n\n", want: []string{"empty file: no header"}},
		{
			name: "missing mapped header", csv: "id,login\n1,jdoe\n", mapping: Mapping{"externalId": "emp_id", "userName": "login"},
			want: []string{`line 1: no column "emp_id", which the mapping gives for externalId`},
		},
		{
			name: "no externalId column", csv: "userName,email\njdoe,j@example.com\n",
			want: []string{`line 1: no column for externalId: map externalId to a header, or name a column "externalId"`},
		},
		{
			name: "no userName column", csv: "externalId,email\n1,j@example.com\n",
			want: []string{`line 1: no column for userName: map userName to a header, or name a column "userName"`},
		},
		{
			name: "unknown mapping field", csv: "externalId,userName\n", mapping: Mapping{"login": "x", "firstName": "y"},
			want: []string{
				`mapping: unknown identity field "firstName" (want one of externalId, userName, email, displayName, status, endDate, department, manager)`,
				`mapping: unknown identity field "login" (want one of externalId, userName, email, displayName, status, endDate, department, manager)`,
			},
		},
		{
			name: "empty mapped name", csv: "externalId,userName\n", mapping: Mapping{"email": " "},
			want: []string{"mapping: email maps to an empty header name"},
		},
		{
			name: "unnamed and duplicate columns", csv: "externalId,userName,,team,team\n",
			want: []string{"line 1: column 3 has no name", `line 1: columns 4 and 5 are both named "team"`},
		},
		{
			name: "NUL byte and invalid UTF-8", csv: "externalId,userName,title\nE1,a\x00b,Rep\nE2,b,R\xffep\n",
			want: []string{"line 2, column userName: contains a NUL byte at byte 2", "line 3, column title: is not valid UTF-8 at byte 2"},
		},
		{
			name: "duplicate externalId", csv: "externalId,userName\nE1,a\nE2,b\nE1,c\n",
			want: []string{`line 4, column externalId: duplicate externalId "E1": line 2 has it too`},
		},
		{
			name: "duplicate externalId after trimming", csv: "emp,userName\nE1,a\n E1 ,b\n", mapping: Mapping{"externalId": "emp"},
			want: []string{`line 3, column emp: duplicate externalId "E1": line 2 has it too`},
		},
		{
			name: "bad date", csv: "emp_id,login,end_date\n1,a,2026-11-30\n2,b,2026-13-01\n", mapping: Mapping{"externalId": "emp_id", "userName": "login", "endDate": "end_date"},
			want: []string{`line 3, column end_date: "2026-13-01" is not an RFC 3339 date (2006-01-02) or date-time (2006-01-02T15:04:05Z07:00)`},
		},
		{
			name: "short row", csv: "externalId,userName,email\n1,a,a@example.com\n2,b\n",
			want: []string{"line 3: has 2 fields, the header has 3"},
		},
		{
			name: "long row", csv: "externalId,userName\n1,a,extra\n",
			want: []string{"line 2: has 3 fields, the header has 2"},
		},
		{
			name: "empty required values", csv: "externalId,userName\n,a\n2,\n",
			want: []string{"line 2, column externalId: externalId is empty", "line 3, column userName: userName is empty"},
		},
		{
			name: "lines count physically past quoted newlines and blank lines",
			csv:  "externalId,userName,note\n1,a,\"two\nlines\"\n\n2,b,x\n1,c,y\n",
			want: []string{`line 6, column externalId: duplicate externalId "1": line 2 has it too`},
		},
		{
			name: "value on a later line of its row",
			csv:  "externalId,note,endDate,userName\n1,\"two\nlines\",soon,a\n",
			want: []string{`line 3, column endDate: "soon" is not an RFC 3339 date (2006-01-02) or date-time (2006-01-02T15:04:05Z07:00)`},
		},
		{
			name: "bare quote, then reading goes on", csv: "externalId,userName\n1,a\"b\n2,\n",
			want: []string{`line 2: bare " in non-quoted-field (at byte 4)`, "line 3, column userName: userName is empty"},
		},
		{
			name: "unterminated quote", csv: "externalId,userName\n1,\"a\n2,b\n",
			want: []string{`line 2: extraneous or missing " in quoted-field (at line 3, byte 5)`},
		},
		{
			name: "bad header quoting", csv: "externalId,\"userName\n",
			want: []string{`line 1: extraneous or missing " in quoted-field (at byte 22)`},
		},
		{
			name: "quote after a quoted value", csv: "externalId,userName\n1,\"a\"b\n",
			want: []string{`line 2: extraneous or missing " in quoted-field (at byte 5)`},
		},
		{
			name: "several problems in one row", csv: "externalId,userName,endDate\n,,tomorrow\n",
			want: []string{
				"line 2, column externalId: externalId is empty",
				"line 2, column userName: userName is empty",
				`line 2, column endDate: "tomorrow" is not an RFC 3339 date (2006-01-02) or date-time (2006-01-02T15:04:05Z07:00)`,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Read(strings.NewReader(tc.csv), "hr", tc.mapping)
			if got != nil {
				t.Errorf("got identities %+v with an error", got)
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			pes := parseErrors(t, err)
			msgs := make([]string, len(pes))
			for i, pe := range pes {
				msgs[i] = pe.Error()
			}
			if !reflect.DeepEqual(msgs, tc.want) {
				t.Errorf("errors:\n got  %q\n want %q", msgs, tc.want)
			}
		})
	}
}

func TestReadSingleErrorIsParseError(t *testing.T) {
	t.Parallel()
	_, err := Read(strings.NewReader("externalId,userName,end_date\n1,a,2026-02-30\n"), "hr", Mapping{"endDate": "end_date"})
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %T, want *ParseError", err)
	}
	if pe.Line != 2 || pe.Column != "end_date" {
		t.Errorf("got line %d column %q, want line 2 column end_date", pe.Line, pe.Column)
	}
}

func TestReadStopsAtTwentyErrors(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("externalId,userName\n")
	for i := range 50 {
		fmt.Fprintf(&b, "%d,\n", i)
	}
	_, err := Read(strings.NewReader(b.String()), "hr", nil)
	pes := parseErrors(t, err)
	if len(pes) != 20 {
		t.Fatalf("got %d errors, want 20", len(pes))
	}
	if pes[0].Line != 2 || pes[19].Line != 21 {
		t.Errorf("lines %d…%d, want 2…21", pes[0].Line, pes[19].Line)
	}
}

func TestReadError(t *testing.T) {
	t.Parallel()
	_, err := Read(iotestErrReader{}, "hr", nil)
	if err == nil || !strings.Contains(err.Error(), "read: disk on fire") {
		t.Fatalf("got %v, want the read error", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadFixture(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/hr_export.csv") // BOM, CRLF, a quoted value over two lines
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	got, err := Read(f, "workday", hrMapping)
	if err != nil {
		t.Fatal(err)
	}
	want := []identity.Identity{
		{
			SourceID: "workday", ExternalID: "E100", UserName: "jdoe", Email: "jane.doe@example.com", DisplayName: "Doe, Jane",
			Status: "active", Department: "Finance", Manager: "E001",
			Attributes: map[string]string{"cost_center": "CC-10", "notes": ""},
		},
		{
			SourceID: "workday", ExternalID: "E101", UserName: "rroe", Email: "richard.roe@example.com", DisplayName: "Richard Roe",
			Status: "terminated", EndDate: endDate(t, "2026-11-30"), Department: "Sales", Manager: "E001",
			Attributes: map[string]string{"cost_center": "CC-20", "notes": "left for a competitor,\nsee HR ticket 42"},
		},
		{
			SourceID: "workday", ExternalID: "E102", UserName: "asmith", Email: "a.smith@example.com", DisplayName: "Alex Smith",
			Status: "leave", EndDate: endDate(t, "2026-12-31T17:00:00+01:00"), Department: "Engineering", Manager: "E100",
			Attributes: map[string]string{"cost_center": "", "notes": ""},
		},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d identities, want %d", len(got), len(want))
	}
	for i := range want {
		if !equalIdentity(got[i], want[i]) {
			t.Errorf("identity %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
}

func TestFieldsMatchIdentity(t *testing.T) {
	t.Parallel()
	// Every mappable field is one identity.Identity.Field knows by name.
	id := identity.Identity{
		ExternalID: "externalId", UserName: "userName", Email: "email", DisplayName: "displayName",
		Status: "status", Department: "department", Manager: "manager",
	}
	for _, f := range Fields {
		if f == "endDate" {
			continue // not a correlatable string field
		}
		if got := id.Field(f); got != f {
			t.Errorf("Identity.Field(%q) = %q", f, got)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		"", "\uFEFF", "externalId,userName\n", "externalId,userName\n1,a\n",
		"externalId,userName,endDate\n1,a,2026-11-30\n2,b,bad\n1,c,\n",
		"emp_id,login,x\n1,a,\"q,\nr\"\n", "a,b\n1\n1,2,3\n", "\"", "a,\"b\n", "x\"y,z\n",
		",,\n,,\n", "externalId,externalId\n", "\r\n\r\n", "externalId,userName\n\"1\"\"\",a\n",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, data string, mapped bool) {
		var m Mapping
		if mapped {
			m = Mapping{"externalId": "emp_id", "userName": "login", "endDate": "x"}
		}
		ids, err := Read(strings.NewReader(data), "src", m)
		if err != nil {
			if ids != nil {
				t.Fatal("identities returned with an error")
			}
			if n := len(parseErrors(t, err)); n > maxErrors {
				t.Fatalf("%d errors, want at most %d", n, maxErrors)
			}
			return
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if id.SourceID != "src" || id.ExternalID == "" || id.UserName == "" || seen[id.ExternalID] {
				t.Fatalf("bad identity %+v", id)
			}
			seen[id.ExternalID] = true
		}
	})
}
