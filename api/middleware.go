package api

import (
	"context"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// RequestIDHeader carries the request id, honoured when the client sends a
// sane one and echoed on every response.
const RequestIDHeader = "X-Request-Id"

var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// reqInfo is what the middleware learns about a request while it is served.
type reqInfo struct {
	id string
	mu sync.Mutex
	// actor is the authenticated principal, for the request log.
	actor string
}

type reqInfoKey struct{}

// RequestID returns the id of the request ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		return ri.id
	}
	return ""
}

// noteActor records the request's principal for its log line.
func noteActor(ctx context.Context, p Principal) {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		ri.mu.Lock()
		ri.actor = p.Actor()
		ri.mu.Unlock()
	}
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (huma sets
// read deadlines through it).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Middleware gives every request an id (X-Request-Id, honoured or
// generated, echoed back), bounds its body to MaxBodyBytes, turns a panic
// into a 500 problem, counts it in the metrics, and logs one structured line
// per request: id, method, path, status, duration, size and principal —
// never headers, queries or bodies. The console wraps its routes in it too.
func (a *API) Middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !saneRequestID.MatchString(id) {
			b, _ := randomBytes(12)
			id = hex.EncodeToString(b)
		}
		ri := &reqInfo{id: id}
		w.Header().Set(RequestIDHeader, id)
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
		if r.Body != nil {
			r.Body = http.MaxBytesReader(sw, r.Body, a.maxBody)
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error("panic serving request", "request_id", id, "panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeProblem(sw, http.StatusInternalServerError, "internal error (request "+id+")")
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			a.metrics.observeHTTP(r.Method, route, status, d)
			level := slog.LevelInfo
			if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
				level = slog.LevelDebug
			}
			ri.mu.Lock()
			actor := ri.actor
			ri.mu.Unlock()
			attrs := []slog.Attr{
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", status), slog.Float64("duration_ms", float64(d.Microseconds())/1000),
				slog.Int64("bytes", sw.bytes),
			}
			if actor != "" {
				attrs = append(attrs, slog.String("actor", actor))
			}
			a.log.LogAttrs(r.Context(), level, "http request", attrs...)
		}()
		h.ServeHTTP(sw, r)
	})
}

// statusClass is a status code's class for metrics labels ("2xx").
func statusClass(code int) string { return strconv.Itoa(code/100) + "xx" }
