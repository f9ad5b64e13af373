package scimsource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// SCIM error types (RFC 7644 §3.12, table 9).
const (
	InvalidFilter = "invalidFilter"
	InvalidSyntax = "invalidSyntax"
	InvalidPath   = "invalidPath"
	InvalidValue  = "invalidValue"
	NoTarget      = "noTarget"
	Uniqueness    = "uniqueness"
	Mutability    = "mutability"
	TooMany       = "tooMany"
)

// Error is a SCIM error response. A Sink may return one (wrapped or not)
// to answer the client with it; any other error is a 500.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Type is the scimType, empty when none applies.
	Type string
	// Detail says what is wrong, naming the attribute at fault.
	Detail string
}

func (e *Error) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("scim %d %s: %s", e.Status, e.Type, e.Detail)
	}
	return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
}

func errorf(status int, typ, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Detail: fmt.Sprintf(format, args...)}
}

func badValue(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, InvalidValue, format, args...)
}

func badSyntax(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, InvalidSyntax, format, args...)
}

func notFound(format string, args ...any) *Error {
	return errorf(http.StatusNotFound, "", format, args...)
}

const contentType = "application/scim+json"

// writeError writes e as RFC 7644 §3.12 JSON.
func writeError(w http.ResponseWriter, e *Error) {
	body := object{
		{"schemas", []string{urnError}},
		{"status", strconv.Itoa(e.Status)},
	}
	if e.Type != "" {
		body = append(body, member{"scimType", e.Type})
	}
	body = append(body, member{"detail", e.Detail})
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="deprov SCIM"`)
	}
	writeJSON(w, e.Status, body)
}

// writeJSON writes v with the SCIM media type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value written is built here from strings, bools and
		// numbers, so this is a programming error: say so without detail.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"schemas":["` + urnError + `"],"status":"500","detail":"internal error"}` + "\n")
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// object is a JSON object that keeps its members in order, so responses
// read like the RFC's examples (schemas and id first, meta last).
type object []member

type member struct {
	k string
	v any
}

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := marshalNoEscape(m.k)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		v, err := marshalNoEscape(m.v)
		if err != nil {
			return nil, err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
