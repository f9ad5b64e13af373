package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of every request deprov sends to a webhook.
const (
	// HeaderTimestamp is the time of sending, in Unix seconds.
	HeaderTimestamp = "Deprov-Timestamp"
	// HeaderSignature is "v1=" and the hex HMAC-SHA256, keyed with the
	// configured secret, of the timestamp, a dot, and the raw body.
	HeaderSignature = "Deprov-Signature"
	// HeaderIdempotencyKey is the same for every attempt of one action, so
	// a receiver can tell a retry from a new request.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// DefaultMaxSkew is the tolerance Verify applies when given none.
const DefaultMaxSkew = 5 * time.Minute

// ErrInvalidSignature is wrapped by every error Verify returns: a receiver
// answers such a request with 401 and acts on nothing.
var ErrInvalidSignature = errors.New("webhook: invalid signature")

// sign is the HMAC-SHA256 of timestamp + "." + body, in hex.
func sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a request deprov sent, for receivers written in Go: r's
// Deprov-Timestamp must be within maxSkew of now (DefaultMaxSkew when
// maxSkew <= 0), which bounds replays, and its Deprov-Signature must hold
// a "v1=" signature of that timestamp and body (the raw bytes read from
// r.Body, before any decoding). Signatures are compared in constant time.
// Several comma-separated signatures are accepted, one match is enough.
//
// A receiver in another language does the same: compute
// hex(HMAC-SHA256(secret, timestamp + "." + body)) and compare it with the
// value after "v1=".
//
//	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//	if err := webhook.Verify(secret, r, body, 0); err != nil {
//		http.Error(w, "invalid signature", http.StatusUnauthorized)
//		return
//	}
func Verify(secret []byte, r *http.Request, body []byte, maxSkew time.Duration) error {
	return verifyAt(secret, r.Header, body, maxSkew, time.Now())
}

func verifyAt(secret []byte, h http.Header, body []byte, maxSkew time.Duration, now time.Time) error {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	ts, sigs := h.Get(HeaderTimestamp), h.Values(HeaderSignature)
	if ts == "" || len(sigs) == 0 {
		return fmt.Errorf("%w: missing %s or %s header", ErrInvalidSignature, HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not Unix seconds", ErrInvalidSignature, HeaderTimestamp)
	}
	if skew := now.Sub(time.Unix(sec, 0)).Abs(); skew > maxSkew {
		return fmt.Errorf("%w: timestamp is %s away from now (at most %s allowed)", ErrInvalidSignature, skew.Round(time.Second), maxSkew)
	}
	want := []byte(sign(secret, strings.TrimSpace(ts), body))
	for _, header := range sigs {
		for _, part := range strings.Split(header, ",") {
			v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
			if ok && hmac.Equal([]byte(v), want) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: no v1 signature matches", ErrInvalidSignature)
}
