package faulttest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

// history is what the audit says happened to the revocations.
type history struct {
	// retries counts failed attempts that were retried
	// (revocation.retrying); reattempted, revocations taken up again after
	// an interrupted attempt (a crash, a lost database connection);
	// alreadyDone, revocations whose last attempt found the account
	// already disabled.
	retries, reattempted, alreadyDone int
	// maxAttempts is the most attempts any revocation took.
	maxAttempts int
	// succeededBy is the actor of each revocation's success.
	succeededBy map[int64]string
}

func (h history) String() string {
	return fmt.Sprintf("%d failed attempts retried, %d revocations taken up again after an interrupted attempt, %d found already done, at most %d attempts",
		h.retries, h.reattempted, h.alreadyDone, h.maxAttempts)
}

var attemptRE = regexp.MustCompile(`\(attempt (\d+)\)$`)

// checkExactlyOnce asserts that every one of the rig's leavers' revocations
// succeeded exactly once, in deprov's records and in its audit chain, that
// the chain verifies, and that each account was changed once in the target.
//
// "Duplicated" is precise here. For each revocation the audit must hold,
// in chain order: one revocation.scheduled; then attempts, each opened by
// one revocation.running whose attempt numbers are 1, 2, … k without a gap
// or a repeat (k = the revocation's attempts); between two attempts exactly
// one revocation.retrying (a failed attempt), or none when the earlier
// attempt was interrupted, which is allowed only where interrupted says
// the fault may have cut that attempt short (given the revocation and when
// the attempt began); and last, one
// revocation.succeeded, after which nothing. A second scheduled or
// succeeded event, a repeated attempt number, or an event after success is
// a duplicate. A success that found the account already disabled is allowed
// only after more than one attempt: a single attempt must have made the
// change itself.
func (r *rig) checkExactlyOnce(interrupted func(id int64, began time.Time) bool) history {
	t := r.t
	t.Helper()
	var revs []store.Revocation
	r.deprovJSON(&revs, "revocations", "list", "--rule", "leavers")
	if len(revs) != r.o.leavers {
		t.Fatalf("%d revocations, want %d", len(revs), r.o.leavers)
	}
	byID := map[int64]store.Revocation{}
	states := map[store.RevocationState]int{}
	for _, rv := range revs {
		byID[rv.ID] = rv
		states[rv.State]++
		if rv.State != store.Succeeded {
			t.Errorf("revocation %d (%s) is %s after %d attempts: %s", rv.ID, rv.UserName, rv.State, rv.Attempts, rv.LastError)
		}
	}
	if len(byID) != r.o.leavers || states[store.Succeeded] != r.o.leavers {
		t.Fatalf("revocations by state %v (%d distinct), want %d succeeded", states, len(byID), r.o.leavers)
	}

	var evs []audit.Event
	r.deprovJSON(&evs, "audit", "list", "--action", "revocation.")
	byRev := map[int64][]audit.Event{}
	for _, ev := range evs {
		if ev.RevocationID == 0 {
			t.Errorf("audit event %d (%s) names no revocation", ev.Seq, ev.Action)
			continue
		}
		if _, ok := byID[ev.RevocationID]; !ok {
			t.Errorf("audit event %d (%s) names revocation %d, which is not one of the rule's", ev.Seq, ev.Action, ev.RevocationID)
			continue
		}
		byRev[ev.RevocationID] = append(byRev[ev.RevocationID], ev)
	}
	var h history
	bad := 0
	for id, rv := range byID {
		if err := checkHistory(rv, byRev[id], interrupted, &h); err != nil {
			t.Errorf("revocation %d (%s): %v\n%s", id, rv.UserName, err, describeEvents(byRev[id]))
			if bad++; bad >= 10 {
				t.Fatal("more than 10 revocations with a wrong history; stopping")
			}
		}
	}

	code, out, errOut := r.deprovCode("audit", "verify")
	if code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("deprov audit verify: exit %d\n%s%s", code, out, errOut)
	}
	checkTarget(t, r.o.target, r.ids)
	t.Logf("exactly once: %d revocations succeeded, %d audit events for them; %s; %s", len(revs), len(evs), h, strings.TrimSpace(out))
	return h
}

// checkHistory checks one revocation's events (see checkExactlyOnce).
func checkHistory(rv store.Revocation, evs []audit.Event, interrupted func(int64, time.Time) bool, h *history) error {
	if !slices.IsSortedFunc(evs, func(a, b audit.Event) int { return int(a.Seq - b.Seq) }) {
		return fmt.Errorf("events out of chain order")
	}
	if len(evs) < 3 || evs[0].Action != "revocation.scheduled" {
		return fmt.Errorf("want scheduled, running…, succeeded")
	}
	last := evs[len(evs)-1]
	if last.Action != "revocation.succeeded" {
		return fmt.Errorf("last event is %s, want revocation.succeeded (one success, nothing after it)", last.Action)
	}
	attempt, retrying, reattempted := 0, 0, false
	var began time.Time // when the current attempt began
	for _, ev := range evs[1 : len(evs)-1] {
		switch ev.Action {
		case "revocation.running":
			m := attemptRE.FindStringSubmatch(ev.Message)
			if m == nil {
				return fmt.Errorf("event %d: no attempt number in %q", ev.Seq, ev.Message)
			}
			n, _ := strconv.Atoi(m[1])
			if n != attempt+1 {
				return fmt.Errorf("event %d: attempt %d after attempt %d: a repeated or skipped attempt", ev.Seq, n, attempt)
			}
			if attempt > 0 && retrying == 0 {
				if interrupted == nil || !interrupted(rv.ID, began) {
					return fmt.Errorf("event %d: attempt %d began while attempt %d was not known to have failed, and no fault interrupted it", ev.Seq, n, attempt)
				}
				reattempted = true
			}
			attempt, retrying, began = n, 0, ev.Time
		case "revocation.retrying":
			if attempt == 0 || retrying > 0 {
				return fmt.Errorf("event %d: a retry without an attempt to retry", ev.Seq)
			}
			retrying++
			h.retries++
		default:
			return fmt.Errorf("event %d: unexpected %s between scheduling and success", ev.Seq, ev.Action)
		}
	}
	if attempt == 0 || retrying > 0 {
		return fmt.Errorf("success without a running attempt after the last retry")
	}
	if attempt != rv.Attempts {
		return fmt.Errorf("the audit shows %d attempts, the revocation %d", attempt, rv.Attempts)
	}
	if reattempted {
		h.reattempted++
	}
	if done, _ := last.Detail["alreadyDone"].(bool); done {
		if attempt == 1 {
			return fmt.Errorf("its only attempt found the account already disabled: something else changed it")
		}
		h.alreadyDone++
	}
	h.maxAttempts = max(h.maxAttempts, attempt)
	if h.succeededBy == nil {
		h.succeededBy = map[int64]string{}
	}
	h.succeededBy[rv.ID] = last.Actor
	return nil
}

func describeEvents(evs []audit.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %d %s %s %s\n", ev.Seq, ev.Time.Format("15:04:05.000"), ev.Action, ev.Message)
	}
	return b.String()
}
