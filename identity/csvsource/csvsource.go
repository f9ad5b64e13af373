// Package csvsource reads identities from a CSV file, for sources of type
// csv: one identity per row, the first row naming the columns.
package csvsource

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/deprov/deprov/identity"
)

// Mapping maps identity fields to CSV header names. Keys are among
// externalId, userName, email, displayName, status, endDate, department, manager.
// A field not in the mapping is read from a column whose header equals the field name, if any.
type Mapping map[string]string

// Fields lists the mappable identity field names.
var Fields = []string{"externalId", "userName", "email", "displayName", "status", "endDate", "department", "manager"}

// requiredFields must have a column, and a non-empty value in every row.
var requiredFields = []string{"externalId", "userName"}

// maxErrors is how many problems Read reports before it stops reading.
const maxErrors = 20

// ParseError is one problem with a CSV file or its mapping.
type ParseError struct {
	// Line is the file's physical line: 1 is the header, and a row whose
	// quoted field spans lines is reported at the line of the value at
	// fault. 0 means the problem is in the mapping, not the file.
	Line int
	// Column is the header name of the column at fault; empty for problems
	// with a whole row or with the header.
	Column string
	// Msg says what is wrong.
	Msg string
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Column != "":
		return fmt.Sprintf("line %d, column %s: %s", e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	case e.Column != "":
		return fmt.Sprintf("column %s: %s", e.Column, e.Msg)
	}
	return e.Msg
}

// problems collects ParseErrors up to maxErrors.
type problems []error

func (p *problems) add(line int, column, format string, args ...any) {
	if len(*p) < maxErrors {
		*p = append(*p, &ParseError{Line: line, Column: column, Msg: fmt.Sprintf(format, args...)})
	}
}

func (p problems) full() bool { return len(p) >= maxErrors }

// err returns nil, the one *ParseError, or all of them joined.
func (p problems) err() error {
	switch len(p) {
	case 0:
		return nil
	case 1:
		return p[0]
	}
	return errors.Join(p...)
}

// Read parses the whole file; on any problem it returns no identities and an error
// (a *ParseError, or errors.Join of several *ParseError, at most 20, reporting as many problems as it finds).
//
// The first row is the header; a UTF-8 byte order mark before it is
// skipped, and header names and values are trimmed of surrounding spaces.
// externalId and userName must have a column and a value in every row, and
// externalId must be unique in the file. endDate is read by
// identity.ParseEndDate. Every column that no field reads becomes an
// attribute named by its header, empty values included.
func Read(r io.Reader, sourceID string, m Mapping) ([]identity.Identity, error) {
	var errs problems
	checkMapping(&errs, m)
	if len(errs) > 0 {
		return nil, errs.err()
	}

	br := bufio.NewReader(r)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\uFEFF")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = 0 // every row as long as the header
	cr.TrimLeadingSpace = true

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ParseError{Msg: "empty file: no header"}
	}
	if err != nil {
		addReadError(&errs, err, nil, 0)
		return nil, errs.err()
	}
	cols := readHeader(&errs, header, m)
	if len(errs) > 0 {
		return nil, errs.err()
	}

	var (
		out  []identity.Identity
		seen = map[string]int{} // externalId to its line
	)
	for !errs.full() {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !addReadError(&errs, err, rec, len(header)) {
				break
			}
			continue
		}
		if id, ok := cols.identity(&errs, cr, rec, sourceID, seen); ok {
			out = append(out, id)
		}
	}
	if len(errs) > 0 {
		return nil, errs.err()
	}
	return out, nil
}

func checkMapping(errs *problems, m Mapping) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case !slices.Contains(Fields, k):
			errs.add(0, "", "mapping: unknown identity field %q (want one of %s)", k, strings.Join(Fields, ", "))
		case strings.TrimSpace(m[k]) == "":
			errs.add(0, "", "mapping: %s maps to an empty header name", k)
		}
	}
}

// addReadError reports an error from the CSV reader and says whether
// reading can go on: a row of the wrong length or with a misplaced quote
// has been consumed whole, so the next row is read as usual.
func addReadError(errs *problems, err error, rec []string, want int) bool {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		errs.add(0, "", "read: %v", err)
		return false
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		errs.add(pe.StartLine, "", "has %d fields, the header has %d", len(rec), want)
		return true
	}
	if pe.StartLine != pe.Line { // an open quote ran on; point at the row
		errs.add(pe.StartLine, "", "%v (at line %d, byte %d)", pe.Err, pe.Line, pe.Column)
		return true
	}
	errs.add(pe.Line, "", "%v (at byte %d)", pe.Err, pe.Column)
	return true
}

// columns says which column each identity field is read from.
type columns struct {
	names []string       // header names, trimmed
	field map[string]int // identity field to column index
	attrs []int          // columns no field reads
}

func readHeader(errs *problems, header []string, m Mapping) *columns {
	c := &columns{names: make([]string, len(header)), field: map[string]int{}}
	index := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		c.names[i] = h
		if h == "" {
			errs.add(1, "", "column %d has no name", i+1)
			continue
		}
		if j, dup := index[h]; dup {
			errs.add(1, "", "columns %d and %d are both named %q", j+1, i+1, h)
			continue
		}
		index[h] = i
	}
	for _, f := range Fields {
		if h, mapped := m[f]; mapped {
			h = strings.TrimSpace(h)
			i, ok := index[h]
			if !ok {
				errs.add(1, "", "no column %q, which the mapping gives for %s", h, f)
				continue
			}
			c.field[f] = i
		} else if i, ok := index[f]; ok {
			c.field[f] = i
		} else if slices.Contains(requiredFields, f) {
			errs.add(1, "", "no column for %s: map %s to a header, or name a column %q", f, f, f)
		}
	}
	used := map[int]bool{}
	for _, i := range c.field {
		used[i] = true
	}
	for i := range header {
		if !used[i] {
			c.attrs = append(c.attrs, i)
		}
	}
	return c
}

// identity builds one row's identity, reporting what is wrong with it.
func (c *columns) identity(errs *problems, cr *csv.Reader, rec []string, sourceID string, seen map[string]int) (identity.Identity, bool) {
	ok := true
	bad := func(i int, format string, args ...any) {
		line, _ := cr.FieldPos(i)
		errs.add(line, c.names[i], format, args...)
		ok = false
	}
	get := func(f string) string {
		if i, found := c.field[f]; found {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}

	for i, v := range rec {
		if err := identity.CheckText(v); err != nil {
			bad(i, "%v", err)
		}
	}
	id := identity.Identity{
		SourceID:    sourceID,
		ExternalID:  get("externalId"),
		UserName:    get("userName"),
		Email:       get("email"),
		DisplayName: get("displayName"),
		Status:      get("status"),
		Department:  get("department"),
		Manager:     get("manager"),
	}
	for _, f := range requiredFields {
		if get(f) == "" {
			bad(c.field[f], "%s is empty", f)
		}
	}
	if id.ExternalID != "" {
		i := c.field["externalId"]
		line, _ := cr.FieldPos(i)
		if first, dup := seen[id.ExternalID]; dup {
			bad(i, "duplicate externalId %q: line %d has it too", id.ExternalID, first)
		} else {
			seen[id.ExternalID] = line
		}
	}
	if i, found := c.field["endDate"]; found {
		d, err := identity.ParseEndDate(rec[i])
		if err != nil {
			bad(i, "%v", err)
		}
		id.EndDate = d
	}
	if len(c.attrs) > 0 {
		id.Attributes = make(map[string]string, len(c.attrs))
		for _, i := range c.attrs {
			id.Attributes[c.names[i]] = strings.TrimSpace(rec[i])
		}
	}
	return id, ok
}
