package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/rule"
	"github.com/deprov/deprov/store"
)

func runCmd(g *globals) *cobra.Command {
	var dryRun bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "run RULE [--dry-run] [--wait DURATION]",
		Short: "Evaluate a rule now",
		Long: `Run evaluates a rule now. A dry run prints the plan (identity × application ×
action, with every skip and its reason) and changes nothing. A real run stores
the run and schedules its revocations, due at first match + grace period; the
workers of "deprov serve" carry them out. With --wait, this command works the
revocations that are already due itself and waits for them (up to DURATION).`,
		Args: exactArgs(1, "RULE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return withEngine(ctx, g, nil, func(e *engine.Engine) error {
				if wait > 0 && !dryRun {
					if err := e.Start(ctx); err != nil {
						return err
					}
					defer func() {
						sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
						defer cancel()
						_ = e.Stop(sctx)
					}()
				}
				eval := newProgress(cmd.ErrOrStderr(), "evaluating  ")
				run, err := e.Run(ctx, args[0], engine.RunOptions{DryRun: dryRun, Actor: actor(), Progress: eval.update})
				eval.done()
				if err != nil {
					return err
				}
				if wait > 0 && !dryRun && run.State == store.RunCompleted {
					wctx, cancel := context.WithTimeout(ctx, wait)
					defer cancel()
					bar := newProgress(cmd.ErrOrStderr(), "revocations ")
					err := e.WaitProgress(wctx, run.ID, bar.update)
					bar.done()
					if err != nil {
						return err
					}
					if run, err = e.Store().Run(ctx, run.ID); err != nil {
						return err
					}
				}
				return output(cmd, g, run, func(w io.Writer) error { return printRun(w, e, ctx, run, dryRun) })
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().DurationVar(&wait, "wait", 0, "work the due revocations here and wait up to this long for them")
	return cmd
}

func printRun(w io.Writer, e *engine.Engine, ctx context.Context, run store.Run, dryRun bool) error {
	head := fmt.Sprintf("run %d of rule %s: %s", run.ID, run.RuleID, run.State)
	if dryRun {
		head = fmt.Sprintf("dry run of rule %s: nothing was changed", run.RuleID)
	}
	fmt.Fprintln(w, head)
	n := run.Counts
	fmt.Fprintf(w, "evaluated %d, in scope %d, matched %d, planned %d revocation(s) for %d user(s), skipped %d\n", n.Evaluated, n.InScope, n.Matched, n.Planned, n.Users, n.Skipped)
	if run.Error != "" {
		fmt.Fprintln(w, run.Error)
	}
	if len(run.Items) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	states := map[string]string{}
	if run.ID != 0 {
		revs, err := e.Store().ListRevocations(ctx, store.RevocationQuery{RunID: run.ID})
		if err != nil {
			return err
		}
		for _, r := range revs {
			states[rule.ActiveKey(r.ApplicationID, r.AccountID, r.Action)+r.IdentityID] = fmt.Sprintf("%s (#%d)", r.State, r.ID)
		}
	}
	return table(w, []string{"IDENTITY", "APPLICATION", "ACCOUNT", "ACTION", "DUE / SKIP", "REASON", "STATE"}, planRows(run.Items, states))
}

func planRows(items []rule.Item, states map[string]string) [][]string {
	rows := make([][]string, 0, len(items))
	for _, it := range items {
		due := "skip: " + string(it.Skip)
		state := "-"
		if it.Planned() {
			due = when(it.DueAt)
			state = dash(states[rule.ActiveKey(it.ApplicationID, it.AccountID, it.Action)+it.IdentityID])
		}
		rows = append(rows, []string{it.UserName, dash(it.ApplicationID), dash(it.AccountName), dash(string(it.Action)), due, dash(it.Reason), state})
	}
	return rows
}

func runsCmd(g *globals) *cobra.Command {
	runs := &cobra.Command{Use: "runs", Short: "Run history"}
	var ruleID, state string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				rs, err := e.Store().ListRuns(cmd.Context(), store.RunQuery{RuleID: ruleID, State: store.RunState(state), Limit: limit})
				if err != nil {
					return err
				}
				return output(cmd, g, rs, func(w io.Writer) error {
					rows := make([][]string, len(rs))
					for i, r := range rs {
						rows[i] = []string{strconv.FormatInt(r.ID, 10), r.RuleID, string(r.State), r.Trigger, r.Actor, when(r.StartedAt),
							strconv.Itoa(r.Counts.Matched), strconv.Itoa(r.Counts.Planned), strconv.Itoa(r.Counts.Skipped)}
					}
					return table(w, []string{"RUN", "RULE", "STATE", "TRIGGER", "ACTOR", "STARTED", "MATCHED", "PLANNED", "SKIPPED"}, rows)
				})
			})
		},
	}
	list.Flags().StringVar(&ruleID, "rule", "", "only runs of this rule")
	list.Flags().StringVar(&state, "state", "", "only runs in this state (completed, quarantined, approved, rejected, failed)")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many runs")
	show := &cobra.Command{
		Use:   "show RUN",
		Short: "Show a run and its plan",
		Args:  exactArgs(1, "RUN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0], "RUN")
			if err != nil {
				return err
			}
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				run, err := e.Store().Run(cmd.Context(), id)
				if errors.Is(err, store.ErrNotFound) {
					return usagef("unknown run %d", id)
				}
				if err != nil {
					return err
				}
				return output(cmd, g, run, func(w io.Writer) error { return printRun(w, e, cmd.Context(), run, false) })
			})
		},
	}
	runAction := func(use, short string, fn func(ctx context.Context, e *engine.Engine, id int64, reason string) (any, string, error)) *cobra.Command {
		return idCommand(g, use, short, "RUN", "reason", "why, for the audit", fn)
	}
	approve := runAction("approve RUN", "Approve a quarantined run: schedule exactly its plan",
		func(ctx context.Context, e *engine.Engine, id int64, _ string) (any, string, error) {
			r, err := e.Approve(ctx, id, actor())
			return r, fmt.Sprintf("run %d approved: %d revocation(s) for %d user(s) scheduled", r.ID, r.Counts.Planned, r.Counts.Users), err
		})
	reject := runAction("reject RUN [--reason TEXT]", "Reject a quarantined run: nothing of its plan is done",
		func(ctx context.Context, e *engine.Engine, id int64, reason string) (any, string, error) {
			r, err := e.Reject(ctx, id, reason, actor())
			return r, fmt.Sprintf("run %d rejected: nothing was scheduled", r.ID), err
		})
	undo := runAction("undo RUN", "Undo a run: cancel what is scheduled, re-enable and restore groups of what happened",
		func(ctx context.Context, e *engine.Engine, id int64, _ string) (any, string, error) {
			res, err := e.Undo(ctx, id, actor())
			if err != nil {
				return nil, "", err
			}
			msg := fmt.Sprintf("run %d undone by undo run %d: %d account(s) being restored, %d scheduled revocation(s) cancelled", id, res.Run.ID, len(res.Restoring), len(res.Cancelled))
			for _, r := range res.NotUndoable {
				msg += fmt.Sprintf("\nnot undoable: %s's account %s in %s was deleted (revocation %d)", r.UserName, r.AccountName, r.ApplicationID, r.ID)
			}
			for _, r := range res.StillRunning {
				msg += fmt.Sprintf("\nstill running: revocation %d (%s in %s) began meanwhile; undo the run again once it has finished", r.ID, r.UserName, r.ApplicationID)
			}
			return res, msg, nil
		})
	runs.AddCommand(list, show, approve, reject, undo)
	return runs
}

func parseID(s, what string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("%s must be a positive number, got %q", what, s)
	}
	return id, nil
}

func revocationsCmd(g *globals) *cobra.Command {
	revs := &cobra.Command{Use: "revocations", Short: "Scheduled, running, done and failed revocations"}
	var states []string
	var ruleID, identityID string
	var runID int64
	list := &cobra.Command{
		Use:   "list [--state S]",
		Short: "List revocations",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := store.RevocationQuery{RuleID: ruleID, IdentityID: identityID, RunID: runID}
			for _, s := range states {
				for _, part := range strings.Split(s, ",") {
					st := store.RevocationState(strings.TrimSpace(part))
					switch st {
					case store.Scheduled, store.Running, store.Succeeded, store.Failed, store.Cancelled, store.Waiting:
						q.States = append(q.States, st)
					default:
						return usagef("--state %q: want scheduled, running, succeeded, failed, cancelled or waiting", part)
					}
				}
			}
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				rs, err := e.Store().ListRevocations(cmd.Context(), q)
				if err != nil {
					return err
				}
				return output(cmd, g, rs, func(w io.Writer) error {
					rows := make([][]string, len(rs))
					for i, r := range rs {
						note := r.Result
						switch r.State {
						case store.Cancelled:
							note = r.CancelReason
						case store.Failed, store.Scheduled:
							note = cmpOr(r.LastError, note)
						}
						rows[i] = []string{strconv.FormatInt(r.ID, 10), string(r.State), r.RuleID, r.UserName, r.ApplicationID, string(r.Action),
							when(r.DueAt), strconv.Itoa(r.Attempts), dash(note)}
					}
					return table(w, []string{"ID", "STATE", "RULE", "USER", "APPLICATION", "ACTION", "DUE", "ATTEMPTS", "NOTE"}, rows)
				})
			})
		},
	}
	list.Flags().StringSliceVar(&states, "state", nil, "only these states (scheduled, running, succeeded, failed, cancelled, waiting)")
	list.Flags().StringVar(&ruleID, "rule", "", "only this rule's")
	list.Flags().StringVar(&identityID, "identity", "", "only this identity's (source/externalId)")
	list.Flags().Int64Var(&runID, "run", 0, "only this run's")
	cancel := idCommand(g, "cancel ID [--reason TEXT]", "Cancel a scheduled revocation", "ID", "reason", "why, for the audit",
		func(ctx context.Context, e *engine.Engine, id int64, reason string) (any, string, error) {
			r, err := e.Cancel(ctx, id, reason, actor())
			return r, fmt.Sprintf("revocation %d cancelled: %s", r.ID, r.CancelReason), err
		})
	revAction := func(use, short string, fn func(ctx context.Context, e *engine.Engine, id int64, note string) (store.Revocation, error)) *cobra.Command {
		return idCommand(g, use, short, "ID", "note", "what was done, or why not, for the audit",
			func(ctx context.Context, e *engine.Engine, id int64, note string) (any, string, error) {
				r, err := fn(ctx, e, id, note)
				return r, fmt.Sprintf("revocation %d is %s: %s", r.ID, r.State, dash(cmpOr(r.LastError, r.Result))), err
			})
	}
	complete := revAction("complete ID [--note TEXT]", "Record that a waiting work item was carried out",
		func(ctx context.Context, e *engine.Engine, id int64, note string) (store.Revocation, error) {
			return e.Complete(ctx, id, note, actor())
		})
	rejectWork := revAction("reject ID --note TEXT", "Record that a waiting work item was not carried out (it fails)",
		func(ctx context.Context, e *engine.Engine, id int64, note string) (store.Revocation, error) {
			return e.RejectWork(ctx, id, note, actor())
		})
	retry := revAction("retry ID", "Schedule a failed revocation again, now",
		func(ctx context.Context, e *engine.Engine, id int64, _ string) (store.Revocation, error) {
			return e.Retry(ctx, id, actor())
		})
	revs.AddCommand(list, cancel, complete, rejectWork, retry)
	return revs
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// idCommand is a command acting on one run or revocation by id: it parses
// the id (named argName in messages), offers --textFlag when use mentions
// it, runs fn and prints its message, or its value with -o json.
func idCommand(g *globals, use, short, argName, textFlag, textHelp string, fn func(ctx context.Context, e *engine.Engine, id int64, text string) (any, string, error)) *cobra.Command {
	var text string
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(1, argName),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0], argName)
			if err != nil {
				return err
			}
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				v, msg, err := fn(cmd.Context(), e, id, text)
				if err != nil {
					return err
				}
				return output(cmd, g, v, func(w io.Writer) error {
					_, err := fmt.Fprintln(w, msg)
					return err
				})
			})
		},
	}
	if strings.Contains(use, "--"+textFlag) {
		c.Flags().StringVar(&text, textFlag, "", textHelp)
	}
	return c
}
