package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/rule"
	"github.com/deprov/deprov/store"
)

// TestRunEventKeepsExclusions: a run with more skips than its audit event
// lists still names every exclusion and its reason (what an auditor asks
// for), with their number.
func TestRunEventKeepsExclusions(t *testing.T) {
	var items []rule.Item
	for i := range maxSkips + 5 {
		items = append(items, rule.Item{IdentityID: fmt.Sprintf("hr/%d", i), ApplicationID: "crm", Skip: rule.SkipAlreadyDone})
	}
	items = append(items,
		rule.Item{IdentityID: "hr/legal-1", ApplicationID: "mail", Skip: rule.SkipExcluded, Reason: "legal hold"},
		rule.Item{IdentityID: "hr/legal-2", ApplicationID: "mail", Skip: rule.SkipExcluded, Reason: "legal hold"})
	e := &Engine{now: time.Now}
	ev := e.runEvent(store.Run{RuleID: "leavers", Items: items}, config.Rule{ID: "leavers"})
	if _, ok := ev.Detail["skips"]; ok {
		t.Fatal("the event lists more skips than maxSkips")
	}
	ex, _ := ev.Detail["excluded"].([]any)
	if len(ex) != 2 || ev.Detail["excludedTotal"] != 2 {
		t.Fatalf("event detail %v, want the two exclusions", ev.Detail)
	}
	if m := ex[0].(map[string]any); m["identity"] != "hr/legal-1" || m["reason"] != "legal hold" {
		t.Fatalf("exclusion %v, want hr/legal-1 with its reason", m)
	}
}
