package engine

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
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
// different chain for the same events.
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
	limit, n := q.Limit, 0
	q.AfterSeq, q.Limit = 0, auditPage
	first := true
	for {
		page, err := e.st.ListAudit(ctx, q)
		if err != nil {
			return err
		}
		for _, ev := range page {
			if limit > 0 && n == limit {
				break
			}
			n++
			if cw != nil {
				detail := ""
				if len(ev.Detail) > 0 {
					detail = mustJSON(ev.Detail)
				}
				cw.Write([]string{strconv.FormatInt(ev.Seq, 10), ev.Time.Format(audit.TimeFormat), ev.Actor, ev.Action, ev.RuleID,
					idOrEmpty(ev.RunID), idOrEmpty(ev.RevocationID), ev.IdentityID, ev.ApplicationID, ev.Message, detail, ev.PrevHash, ev.Hash})
				continue
			}
			sep := ","
			if first {
				sep, first = "", false
			}
			fmt.Fprintf(w, "%s\n    %s", sep, mustJSON(ev))
		}
		if len(page) < auditPage || (limit > 0 && n == limit) {
			break
		}
		q.AfterSeq = page[len(page)-1].Seq
	}
	if cw != nil {
		cw.Write([]string{"#chain-head", strconv.FormatInt(head.Seq, 10), "", "", "", "", "", "", "", "last event of the whole chain", "", "", head.Hash})
		cw.Flush()
		return cw.Error()
	}
	_, err = fmt.Fprintf(w, "\n  ],\n  \"count\": %d\n}\n", n)
	return err
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
