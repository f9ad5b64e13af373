// Package scimsource is deprov's inbound SCIM 2.0 endpoint (RFC 7643,
// RFC 7644): an HR system or IdP pushes users to a source of type scim,
// and each push becomes an identity of that source, its status and end
// date read through the source's mapping. DELETE and active=false are
// status changes like any other, so the engine acts on them as on a feed.
package scimsource

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

// Sink is what the endpoint reads and changes; the engine implements it.
type Sink interface {
	// PutIdentity stores one identity pushed by sourceID (create or
	// replace) and acts on the change; returns it as stored. An *Error
	// it returns (wrapped or not) is the client's answer.
	PutIdentity(ctx context.Context, sourceID string, id identity.Identity, actor string) (identity.Identity, error)
	// GetIdentity returns one identity of the source (store.ErrNotFound if none).
	GetIdentity(ctx context.Context, sourceID, externalID string) (identity.Identity, error)
	// ListIdentities pages the source's identities: q.Offset (0-based)
	// and q.Limit, q.UserName (case-insensitive) / q.ExternalID exact
	// filters, q.HideStatus left out; returns the page and the total
	// matching.
	ListIdentities(ctx context.Context, sourceID string, q store.IdentityQuery) ([]identity.Identity, int, error)
}

// Options configure the endpoint.
type Options struct {
	// Sources returns the configured sources, tokens expanded; it is
	// called on every request, so a new configuration applies at once.
	Sources func(ctx context.Context) ([]config.Source, error)
	// Sink stores what sources push.
	Sink Sink
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body (default 1 MiB).
	MaxBodyBytes int64
}

// DefaultMaxBodyBytes is the request body limit when Options sets none.
const DefaultMaxBodyBytes = 1 << 20

// prefix is where the endpoint is mounted.
const prefix = "/scim/v2"

// requestIDHeader is api.RequestIDHeader, which this package cannot import
// (api depends on it through the engine). The API middleware sets it on
// the response before the handler runs; the request's own header is the
// client's and may not be the id the middleware logged.
const requestIDHeader = "X-Request-Id"

type handler struct {
	sources func(ctx context.Context) ([]config.Source, error)
	sink    Sink
	log     *slog.Logger
	maxBody int64
	// locks serialises the writes of one source, so that the userName
	// check and the write it guards are one step on this node.
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns the handler of /scim/v2/...; mount it at the root.
func New(o Options) http.Handler {
	h := &handler{sources: o.Sources, sink: o.Sink, log: o.Logger, maxBody: o.MaxBodyBytes, locks: map[string]*sync.Mutex{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	return h
}

// recorder remembers the status written, for the log and for recovery.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// The id the API middleware gave the request, so that this line and
	// the middleware's can be joined; empty when mounted without it.
	reqID := w.Header().Get(requestIDHeader)
	rec := &recorder{ResponseWriter: w}
	sourceID, detail := "", ""
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.log.Error("scim: panic serving request", "request_id", reqID, "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeError(rec, errorf(http.StatusInternalServerError, "", "internal error"))
			}
		}
		level := slog.LevelDebug
		switch {
		case rec.status >= 500:
			level = slog.LevelError
		case rec.status >= 400:
			level = slog.LevelWarn
		case r.Method != http.MethodGet:
			level = slog.LevelInfo
		}
		// The query (filters hold user names) and the headers (the token)
		// are not logged.
		attrs := []any{"request_id", reqID, "method", r.Method, "path", r.URL.Path, "status", rec.status, "source", sourceID, "duration", time.Since(start)}
		if detail != "" {
			// What an operator needs to fix an IdP's pushes.
			attrs = append(attrs, "detail", detail)
		}
		h.log.Log(r.Context(), level, "scim request", attrs...)
	}()
	if err := h.serve(rec, r, &sourceID); err != nil {
		detail = err.Detail
		writeError(rec, err)
	}
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, sourceID *string) *Error {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return notFound("not a SCIM endpoint: deprov serves SCIM 2.0 under %s/", prefix)
	}
	src, err := h.authenticate(r)
	if err != nil {
		return err
	}
	*sourceID = src.ID
	v, verr := newView(src)
	if verr != nil {
		h.log.Error("scim: invalid mapping", "source", src.ID, "err", verr)
		return errorf(http.StatusInternalServerError, "", "source %s has an invalid SCIM mapping: %v", src.ID, verr)
	}
	var seg []string
	for _, s := range strings.Split(strings.Trim(rest, "/"), "/") {
		u, err := url.PathUnescape(s)
		if err != nil {
			return notFound("invalid path segment %q", s)
		}
		seg = append(seg, u)
	}
	switch {
	case len(seg) == 1 && seg[0] == "":
		return notFound("no resource here: use %s/Users", prefix)
	case strings.EqualFold(seg[0], "Users") && len(seg) <= 2:
		return h.serveUsers(w, r, v, seg[1:])
	case strings.EqualFold(seg[0], "ServiceProviderConfig") && len(seg) == 1,
		strings.EqualFold(seg[0], "Schemas") && len(seg) <= 2,
		strings.EqualFold(seg[0], "ResourceTypes") && len(seg) <= 2:
		return h.serveDiscovery(w, r, v, seg)
	case strings.EqualFold(seg[0], "Groups"):
		return notFound("deprov takes Users only: groups are not kept for sources")
	case strings.EqualFold(seg[0], "Bulk"):
		return notFound("bulk is not supported (see /ServiceProviderConfig)")
	}
	return notFound("no such endpoint: %s", clip(r.URL.Path))
}

// authenticate finds the scim source whose token the request bears.
func (h *handler) authenticate(r *http.Request) (config.Source, *Error) {
	unauthorized := func(detail string) (config.Source, *Error) {
		return config.Source{}, errorf(http.StatusUnauthorized, "", "%s", detail)
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return unauthorized("a bearer token is required: send Authorization: Bearer <the source's token>")
	}
	sources, err := h.sources(r.Context())
	if err != nil {
		h.log.Error("scim: reading sources", "err", err)
		return config.Source{}, errorf(http.StatusInternalServerError, "", "internal error")
	}
	// Hashing first gives equal lengths, so the comparison takes the same
	// time whatever the token; every source is compared.
	got := sha256.Sum256([]byte(token))
	var found []config.Source
	for _, s := range sources {
		if s.Type != "scim" || s.Token == "" {
			continue
		}
		want := sha256.Sum256([]byte(s.Token))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return unauthorized("the bearer token is not the token of any scim source")
	case 1:
		return found[0], nil
	}
	h.log.Error("scim: several sources share one token", "sources", len(found))
	return config.Source{}, errorf(http.StatusInternalServerError, "", "this token belongs to more than one scim source; give each source its own token")
}

// lock serialises one source's writes.
func (h *handler) lock(sourceID string) func() {
	h.mu.Lock()
	l, ok := h.locks[sourceID]
	if !ok {
		l = &sync.Mutex{}
		h.locks[sourceID] = l
	}
	h.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// readBody reads a JSON request body within the size limit.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) (map[string]any, *Error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != contentType && mt != "application/json") {
			return nil, errorf(http.StatusUnsupportedMediaType, "", "Content-Type must be %s (or application/json), got %q", contentType, clip(ct))
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "", "the request body is larger than %d bytes", h.maxBody)
		}
		return nil, badSyntax("reading the request body: %v", err)
	}
	return decodeObject(b)
}

// sinkError turns a Sink's error into the client's answer.
func (h *handler) sinkError(op string, err error) *Error {
	var se *Error
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, store.ErrNotFound):
		return notFound("user not found")
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, "", "the user changed while this request was served; retry")
	}
	h.log.Error("scim: "+op, "err", err)
	return errorf(http.StatusInternalServerError, "", "internal error")
}
