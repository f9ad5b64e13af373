package scimsource

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

// serveUsers answers /Users and /Users/{id}.
func (h *handler) serveUsers(w http.ResponseWriter, r *http.Request, v *view, seg []string) *Error {
	if len(seg) == 0 {
		switch r.Method {
		case http.MethodGet:
			return h.list(w, r, v)
		case http.MethodPost:
			return h.create(w, r, v)
		}
		return methodNotAllowed(w, http.MethodGet, http.MethodPost)
	}
	id := seg[0]
	if id == "" {
		return notFound("no user id in the path")
	}
	if id == ".search" {
		return notFound("POST /Users/.search is not supported: use GET /Users?filter=…")
	}
	switch r.Method {
	case http.MethodGet:
		return h.get(w, r, v, id)
	case http.MethodPut:
		return h.replace(w, r, v, id)
	case http.MethodPatch:
		return h.patch(w, r, v, id)
	case http.MethodDelete:
		return h.delete(w, r, v, id)
	}
	return methodNotAllowed(w, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete)
}

func actor(v *view) string { return "scim:" + v.source.ID }

// current returns a user that exists and was not deleted.
func (h *handler) current(ctx context.Context, v *view, id string) (identity.Identity, *Error) {
	idn, err := h.sink.GetIdentity(ctx, v.source.ID, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && v.deleted(idn)) {
		return identity.Identity{}, notFound("user %q not found", clip(id))
	}
	if err != nil {
		return identity.Identity{}, h.sinkError("get identity", err)
	}
	return idn, nil
}

func (h *handler) respond(w http.ResponseWriter, r *http.Request, v *view, status int, idn identity.Identity) {
	res, _ := v.toResource(idn)
	base := baseURL(r)
	if status == http.StatusCreated {
		w.Header().Set("Location", userLocation(base, idn.ExternalID))
	}
	writeJSON(w, status, v.render(res, idn.ExternalID, idn.UpdatedAt, base))
}

func (h *handler) get(w http.ResponseWriter, r *http.Request, v *view, id string) *Error {
	idn, err := h.current(r.Context(), v, id)
	if err != nil {
		return err
	}
	h.respond(w, r, v, http.StatusOK, idn)
	return nil
}

func (h *handler) create(w http.ResponseWriter, r *http.Request, v *view) *Error {
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	res, err := v.parseUser(body)
	if err != nil {
		return err
	}
	// HR keys are stable: the client's externalId is the id.
	id, _ := res[attrExternalID].(string)
	given := id != ""
	if !given {
		id = newUUID()
	}
	idn, err := v.toIdentity(res, id)
	if err != nil {
		return err
	}
	ctx := r.Context()
	defer h.lock(v.source.ID)()
	old, gerr := h.sink.GetIdentity(ctx, v.source.ID, id)
	switch {
	case gerr == nil && !v.deleted(old):
		return errorf(http.StatusConflict, Uniqueness, "a user with externalId %q already exists (id %q): use PUT or PATCH to change it", clip(id), clip(id))
	case gerr != nil && !errors.Is(gerr, store.ErrNotFound):
		return h.sinkError("get identity", gerr)
	}
	holder, err := h.nameHolder(ctx, v, idn.UserName, id)
	if err != nil {
		return err
	}
	if holder != nil {
		if !given && v.deleted(*holder) {
			// The client deleted this user and creates it again without an
			// id of its own (Okta does): it is the same identity, back.
			idn.ExternalID = holder.ExternalID
			old, gerr = *holder, nil
		} else {
			return userNameTaken(v, idn.UserName, *holder)
		}
	}
	if gerr == nil {
		// Re-creating a deleted user keeps what SCIM cannot show.
		_, hidden := v.toResource(old)
		idn.Attributes = withHidden(idn.Attributes, hidden)
	}
	stored, perr := h.put(ctx, v, idn)
	if perr != nil {
		return perr
	}
	h.respond(w, r, v, http.StatusCreated, stored)
	return nil
}

// put stores an identity through the sink. The handler checks userNames
// first for a clear answer; the store checks again in its transaction,
// which is what holds when another node takes a push for the same
// userName at the same moment.
func (h *handler) put(ctx context.Context, v *view, idn identity.Identity) (identity.Identity, *Error) {
	stored, err := h.sink.PutIdentity(ctx, v.source.ID, idn, actor(v))
	var taken *store.UserNameTakenError
	if errors.As(err, &taken) {
		return identity.Identity{}, userNameTaken(v, idn.UserName, taken.Holder)
	}
	if err != nil {
		return identity.Identity{}, h.sinkError("put identity", err)
	}
	return stored, nil
}

func (h *handler) replace(w http.ResponseWriter, r *http.Request, v *view, id string) *Error {
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	res, err := v.parseUser(body)
	if err != nil {
		return err
	}
	idn, err := v.toIdentity(res, id)
	if err != nil {
		return err
	}
	ctx := r.Context()
	defer h.lock(v.source.ID)()
	old, err := h.current(ctx, v, id)
	if err != nil {
		return err
	}
	return h.write(w, r, v, old, idn)
}

func (h *handler) patch(w http.ResponseWriter, r *http.Request, v *view, id string) *Error {
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	ops, err := parsePatch(body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	defer h.lock(v.source.ID)()
	old, err := h.current(ctx, v, id)
	if err != nil {
		return err
	}
	res, _ := v.toResource(old)
	p := &patcher{v: v, res: res, touched: map[string]bool{}}
	for i, op := range ops {
		if err := p.apply(i, op); err != nil {
			return err
		}
	}
	if err := v.recheck(p.res); err != nil {
		return err
	}
	idn, err := v.toIdentity(p.res, id)
	if err != nil {
		return err
	}
	statusTouched := p.touchedAttr(v.schemas[0], defaultStatusKey) ||
		(v.status != nil && p.touchedAttr(v.status.schema, v.status.attr.name))
	if !statusTouched {
		// A status the source set another way (or one deprov's mapping
		// would not rebuild) stays as it is.
		idn.Status = old.Status
	}
	return h.write(w, r, v, old, idn)
}

// write stores the new version of an existing user (PUT, PATCH).
func (h *handler) write(w http.ResponseWriter, r *http.Request, v *view, old, idn identity.Identity) *Error {
	ctx := r.Context()
	_, hidden := v.toResource(old)
	idn.Attributes = withHidden(idn.Attributes, hidden)
	if !strings.EqualFold(old.UserName, idn.UserName) {
		holder, err := h.nameHolder(ctx, v, idn.UserName, idn.ExternalID)
		if err != nil {
			return err
		}
		if holder != nil {
			return userNameTaken(v, idn.UserName, *holder)
		}
	}
	if same(old, idn) {
		h.respond(w, r, v, http.StatusOK, old)
		return nil
	}
	stored, err := h.put(ctx, v, idn)
	if err != nil {
		return err
	}
	h.respond(w, r, v, http.StatusOK, stored)
	return nil
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request, v *view, id string) *Error {
	ctx := r.Context()
	defer h.lock(v.source.ID)()
	old, err := h.current(ctx, v, id)
	if err != nil {
		return err
	}
	// deprov keeps the identity: a deletion is the source saying the
	// person left, which rules act on.
	idn := old
	idn.Status = v.deletedStatus
	if _, err := h.sink.PutIdentity(ctx, v.source.ID, idn, actor(v)); err != nil {
		return h.sinkError("put identity", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// nameHolder returns another identity of the source whose userName is
// name, case-insensitively; deleted ones count, since accounts correlate
// on userName and two identities must not claim one account.
func (h *handler) nameHolder(ctx context.Context, v *view, name, self string) (*identity.Identity, *Error) {
	ids, _, err := h.sink.ListIdentities(ctx, v.source.ID, store.IdentityQuery{SourceID: v.source.ID, UserName: name, Limit: 10})
	if err != nil {
		return nil, h.sinkError("list identities", err)
	}
	var deleted *identity.Identity
	for _, o := range ids {
		if o.ExternalID == self || !strings.EqualFold(o.UserName, name) {
			continue
		}
		if !v.deleted(o) {
			return &o, nil
		}
		deleted = &o
	}
	return deleted, nil
}

func userNameTaken(v *view, name string, holder identity.Identity) *Error {
	if v.deleted(holder) {
		return errorf(http.StatusConflict, Uniqueness,
			"userName %q belongs to user %q, which this source deleted (deprov keeps it as a leaver's record): re-create that user with externalId %q, or choose another userName",
			clip(name), clip(holder.ExternalID), clip(holder.ExternalID))
	}
	return errorf(http.StatusConflict, Uniqueness, "userName %q is already taken by user %q (userName is unique within the source, case-insensitively)", clip(name), clip(holder.ExternalID))
}

// withHidden adds to attrs the attributes SCIM could not show, unless set.
func withHidden(attrs, hidden map[string]string) map[string]string {
	if len(hidden) == 0 {
		return attrs
	}
	out := maps.Clone(attrs)
	if out == nil {
		out = map[string]string{}
	}
	for k, val := range hidden {
		if _, ok := out[k]; !ok {
			out[k] = val
		}
	}
	return out
}

// same says a write would change nothing.
func same(a, b identity.Identity) bool {
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	if a.EndDate.String() != b.EndDate.String() {
		return false
	}
	// Equal end dates may differ in their time.Location pointer.
	a.EndDate, b.EndDate = identity.EndDate{}, identity.EndDate{}
	if len(a.Attributes) == 0 && len(b.Attributes) == 0 {
		a.Attributes, b.Attributes = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// recheck checks a patched resource as a whole, as a PUT of it would be.
func (v *view) recheck(res resource) *Error {
	for _, s := range v.schemas {
		c := res.container(s, false)
		for _, k := range sortedKeys(c) {
			if s.id == URNUser && hasURNPrefix(k) {
				continue
			}
			a, path, err := v.lookup(s, k)
			if err != nil {
				return err
			}
			nv, err := normalize(a, c[k], path)
			if err != nil {
				return err
			}
			setOrDelete(c, k, nv)
		}
	}
	return nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
