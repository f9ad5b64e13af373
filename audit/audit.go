// Package audit is deprov's evidence: an append-only, hash-chained record of
// every decision and every change. Each event carries the SHA-256 of its
// canonical form and the previous event's hash, so that altering, removing
// or reordering any event breaks the chain at that event.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Event is one audit record.
type Event struct {
	// Seq is the event's position in the chain, from 1; set by the store.
	Seq int64 `json:"seq"`
	// Time is when it happened (UTC, microsecond precision).
	Time time.Time `json:"time"`
	// Actor is who did it: "cli:<user>", "token:<name>", "scheduler", "worker:<node>", "system".
	Actor string `json:"actor"`
	// Action is what happened, dotted: run.completed, revocation.succeeded, config.applied, ...
	Action string `json:"action"`
	// RuleID, RunID, RevocationID, IdentityID and ApplicationID name what it concerns, when they apply.
	RuleID        string `json:"ruleId,omitempty"`
	RunID         int64  `json:"runId,omitempty"`
	RevocationID  int64  `json:"revocationId,omitempty"`
	IdentityID    string `json:"identityId,omitempty"`
	ApplicationID string `json:"applicationId,omitempty"`
	// Message is a one-line human account of the event.
	Message string `json:"message"`
	// Detail holds structured facts (counts, reasons, before/after).
	Detail map[string]any `json:"detail,omitempty"`
	// PrevHash is the previous event's Hash ("" for the first).
	PrevHash string `json:"prevHash"`
	// Hash is the hex SHA-256 of the event's canonical form.
	Hash string `json:"hash"`
}

// canonical is the hashed form: every field but Hash, in a fixed order,
// with time in UTC at microsecond precision (what every store keeps).
type canonical struct {
	Seq           int64          `json:"seq"`
	Time          string         `json:"time"`
	Actor         string         `json:"actor"`
	Action        string         `json:"action"`
	RuleID        string         `json:"ruleId"`
	RunID         int64          `json:"runId"`
	RevocationID  int64          `json:"revocationId"`
	IdentityID    string         `json:"identityId"`
	ApplicationID string         `json:"applicationId"`
	Message       string         `json:"message"`
	Detail        map[string]any `json:"detail"`
	PrevHash      string         `json:"prevHash"`
}

// TimeFormat is the precision events are kept and hashed at.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// ComputeHash returns the hash of e's canonical form (e.Hash is ignored).
// encoding/json sorts map keys, so Detail hashes the same after a round trip
// through any store as long as its values keep their JSON form.
func ComputeHash(e Event) string {
	b, err := json.Marshal(canonical{
		Seq: e.Seq, Time: e.Time.UTC().Format(TimeFormat), Actor: e.Actor, Action: e.Action,
		RuleID: e.RuleID, RunID: e.RunID, RevocationID: e.RevocationID, IdentityID: e.IdentityID,
		ApplicationID: e.ApplicationID, Message: e.Message, Detail: normalize(e.Detail), PrevHash: e.PrevHash,
	})
	if err != nil {
		// Detail values come from deprov itself and always marshal; a failure
		// here is a programming error that must not produce a valid-looking hash.
		panic("audit: canonical form: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// normalize round-trips Detail through JSON so that the values hashed at
// append time (e.g. int) equal those read back from a store (float64).
func normalize(d map[string]any) map[string]any {
	if len(d) == 0 {
		return nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic("audit: detail: " + err.Error())
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// Seal sets e's chain fields after prev (nil for the first event).
func Seal(e *Event, prev *Event) {
	e.Seq, e.PrevHash = 1, ""
	if prev != nil {
		e.Seq, e.PrevHash = prev.Seq+1, prev.Hash
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.Hash = ComputeHash(*e)
}
