package engine

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

// auditPage is how many events verification and export read at a time.
const auditPage = 2000

// VerifyResult is the outcome of walking the audit chain.
type VerifyResult struct {
	// Events is how many events verified.
	Events int64 `json:"events"`
	// Head is the last verified event's hash.
	Head string `json:"head"`
	// Broken names the first event that does not verify; nil when the chain holds.
	Broken *audit.BrokenError `json:"broken,omitempty"`
}

// VerifyAudit walks the whole chain, recomputing every hash, and names the
// first event that does not match.
func (e *Engine) VerifyAudit(ctx context.Context) (VerifyResult, error) {
	var v audit.Verifier
	var res VerifyResult
	after := int64(0)
	for {
		page, err := e.st.ListAudit(ctx, store.AuditQuery{AfterSeq: after, Limit: auditPage})
		if err != nil {
			return res, err
		}
		for _, ev := range page {
			if err := v.Add(ev); err != nil {
				res.Broken = err.(*audit.BrokenError)
				res.Events = v.Count
				if h := v.Head(); h != nil {
					res.Head = h.Hash
				}
				return res, nil
			}
		}
		if len(page) < auditPage {
			break
		}
		after = page[len(page)-1].Seq
	}
	res.Events = v.Count
	if h := v.Head(); h != nil {
		res.Head = h.Hash
	}
	return res, nil
}

// ExportAudit writes the events q selects as evidence, in chain order, as
// csv or json, with the head of the whole chain (its last event's hash),
// which anchors the export: any later change to the log shows up as a
// different chain for the same events. An export for one identity also
// holds the events of the runs that planned its revocations (the run, its
// approval or rejection, its undo), which name no identity themselves:
// they say by which rule, with what exclusions, and who approved.
func (e *Engine) ExportAudit(ctx context.Context, q store.AuditQuery, format string, w io.Writer) error {
	if format != "csv" && format != "json" {
		return invalidf("--format must be csv or json, got %q", format)
	}
	head, err := e.chainHead(ctx)
	if err != nil {
		return err
	}
	var cw *csv.Writer
	if format == "csv" {
		cw = csv.NewWriter(w)
		cw.Write([]string{"seq", "time", "actor", "action", "rule", "run", "revocation", "identity", "application", "message", "detail", "prev_hash", "hash"})
	} else {
		fmt.Fprintf(w, "{\n  \"chainHead\": %s,\n  \"events\": [", mustJSON(head))
	}
	n := 0
	write := func(ev audit.Event) {
		n++
		if cw != nil {
			detail := ""
			if len(ev.Detail) > 0 {
				detail = mustJSON(ev.Detail)
			}
			cw.Write([]string{strconv.FormatInt(ev.Seq, 10), ev.Time.Format(audit.TimeFormat), ev.Actor, ev.Action, ev.RuleID,
				idOrEmpty(ev.RunID), idOrEmpty(ev.RevocationID), ev.IdentityID, ev.ApplicationID, ev.Message, detail, ev.PrevHash, ev.Hash})
			return
		}
		sep := ","
		if n == 1 {
			sep = ""
		}
		fmt.Fprintf(w, "%s\n    %s", sep, mustJSON(ev))
	}
	if q.IdentityID != "" {
		evs, err := e.identityEvidence(ctx, q)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			write(ev)
		}
	} else if err := e.eachAudit(ctx, q, func(ev audit.Event) { write(ev) }); err != nil {
		return err
	}
	if cw != nil {
		cw.Write([]string{"#chain-head", strconv.FormatInt(head.Seq, 10), "", "", "", "", "", "", "", "last event of the whole chain", "", "", head.Hash})
		cw.Flush()
		return cw.Error()
	}
	_, err = fmt.Fprintf(w, "\n  ],\n  \"count\": %d\n}\n", n)
	return err
}

// eachAudit calls f for each event q selects (at most q.Limit, when set),
// in chain order, reading them a page at a time.
func (e *Engine) eachAudit(ctx context.Context, q store.AuditQuery, f func(audit.Event)) error {
	limit, n := q.Limit, 0
	q.AfterSeq, q.Limit = 0, auditPage
	for {
		page, err := e.st.ListAudit(ctx, q)
		if err != nil {
			return err
		}
		for _, ev := range page {
			if limit > 0 && n == limit {
				return nil
			}
			n++
			f(ev)
		}
		if len(page) < auditPage {
			return nil
		}
		q.AfterSeq = page[len(page)-1].Seq
	}
}

// identityEvidence is the events about one identity, with the run-level
// events of the runs that planned its revocations, in chain order.
func (e *Engine) identityEvidence(ctx context.Context, q store.AuditQuery) ([]audit.Event, error) {
	var out []audit.Event
	limit := q.Limit
	q.Limit = 0
	if err := e.eachAudit(ctx, q, func(ev audit.Event) { out = append(out, ev) }); err != nil {
		return nil, err
	}
	revs, err := e.st.ListRevocations(ctx, store.RevocationQuery{IdentityID: q.IdentityID})
	if err != nil {
		return nil, err
	}
	runs := map[int64]bool{}
	for _, r := range revs {
		runs[r.RunID] = true
	}
	for run := range runs {
		rq := q
		rq.IdentityID, rq.RunID = "", run
		err := e.eachAudit(ctx, rq, func(ev audit.Event) {
			if ev.RevocationID == 0 && ev.IdentityID == "" {
				out = append(out, ev)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b audit.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// chainHead is the last event of the whole chain.
type chainHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

func (e *Engine) chainHead(ctx context.Context) (chainHead, error) {
	seq, hash, err := e.st.AuditHead(ctx)
	return chainHead{Seq: seq, Hash: hash}, err
}

func idOrEmpty(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return strconv.Quote(err.Error())
	}
	return string(b)
}
