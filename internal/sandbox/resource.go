package sandbox

import (
	"crypto/rand"
	"fmt"
	"maps"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	scimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Schemas the patch code resolves paths against. The library validates PATCH paths against the
// resource schema plus externalId, so ours must include it too.
var (
	userSchema  = withExternalID(schema.CoreUserSchema())
	groupSchema = withExternalID(schema.CoreGroupSchema())
)

func withExternalID(s schema.Schema) schema.Schema {
	s.Attributes = append(s.Attributes[:len(s.Attributes):len(s.Attributes)],
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			CaseExact: true,
			Name:      "externalId",
		})))
	return s
}

// newID returns a random (version 4) UUID, the id shape real SCIM applications hand out.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// scimError returns base with a specific detail. Handlers must return scimerrors.ScimError as a
// value: the library finds it with errors.As against a value target, so a *ScimError becomes a 500.
func scimError(base scimerrors.ScimError, format string, args ...any) error {
	base.Detail = fmt.Sprintf(format, args...)
	return base
}

func notFound(kind, id string) error {
	return scimerrors.ScimError{Status: 404, Detail: fmt.Sprintf("%s %q not found.", kind, id)}
}

// deepCopy copies a JSON-shaped value, so that a resource handed to the library (which encodes it
// after our lock is released) never shares maps or slices with the store.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

func copyAttrs(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return deepCopy(m).(map[string]any)
}

// normalize wraps lone objects given for multi-valued attributes in a list. The library's schema
// validation passes a multi-valued attribute sent as a JSON object (`"emails": {...}`) through as a
// single map, and its filter evaluation only looks into lists, so emails[value eq "x"] would miss
// that user (and for a multi-valued simple attribute it panics).
func normalize(s schema.Schema, attrs map[string]any) {
	for _, attr := range s.Attributes {
		if v, ok := attrs[attr.Name()]; ok && attr.MultiValued() {
			if m, isMap := v.(map[string]any); isMap {
				attrs[attr.Name()] = []any{m}
			}
		}
	}
}

// passes reports whether a resource, as a JSON-shaped map, passes a filter. The library's filter
// evaluation panics on value shapes it does not expect (a string comparison against a non-string,
// a multi-valued attribute that is not a list); to a list that means "no match", not a dropped
// connection.
func passes(v scimfilter.Validator, resource map[string]any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return v.PassesFilter(resource) == nil
}

// filterView is the resource as a filter sees it: attributes plus id, externalId and meta.
func filterView(r scim.Resource, resourceType string) map[string]any {
	m := maps.Clone(r.Attributes)
	m["id"] = r.ID
	if r.ExternalID.Present() {
		m["externalId"] = r.ExternalID.Value()
	}
	meta := map[string]any{"resourceType": resourceType}
	if r.Meta.Created != nil {
		meta["created"] = r.Meta.Created.Format(time.RFC3339)
	}
	if r.Meta.LastModified != nil {
		meta["lastModified"] = r.Meta.LastModified.Format(time.RFC3339)
	}
	m["meta"] = meta
	return m
}

// page cuts one page out of items; the library has already clamped StartIndex to >= 1 and Count
// to [0, maxResults].
func page[T any](items []T, params scim.ListRequestParams) []T {
	start := min(params.StartIndex-1, len(items))
	end := min(start+params.Count, len(items))
	return items[start:end]
}

// resource builds the response shape; attrs must already be a private copy.
func resource(id string, attrs map[string]any, created, modified time.Time) scim.Resource {
	r := scim.Resource{
		ID:         id,
		Attributes: attrs,
		Meta:       scim.Meta{Created: &created, LastModified: &modified},
	}
	if ext, ok := attrs["externalId"].(string); ok {
		delete(attrs, "externalId")
		if ext != "" {
			r.ExternalID = optional.NewString(ext)
		}
	}
	return r
}
