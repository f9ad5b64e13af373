package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
)

func auditCmd(g *globals) *cobra.Command {
	a := &cobra.Command{Use: "audit", Short: "The audit log: every decision and change"}
	var q store.AuditQuery
	var from, to string
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit events in order",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if q.From, err = parseTime(from, "--from"); err != nil {
				return err
			}
			if q.To, err = parseTime(to, "--to"); err != nil {
				return err
			}
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				evs, err := e.Store().ListAudit(cmd.Context(), q)
				if err != nil {
					return err
				}
				return output(cmd, g, evs, func(w io.Writer) error {
					rows := make([][]string, len(evs))
					for i, ev := range evs {
						rows[i] = []string{strconv.FormatInt(ev.Seq, 10), when(ev.Time), ev.Actor, ev.Action, ev.Message}
					}
					return table(w, []string{"SEQ", "TIME", "ACTOR", "ACTION", "MESSAGE"}, rows)
				})
			})
		},
	}
	list.Flags().StringVar(&q.RuleID, "rule", "", "only events of this rule")
	list.Flags().StringVar(&q.IdentityID, "identity", "", "only events of this identity (source/externalId)")
	list.Flags().Int64Var(&q.RunID, "run", 0, "only events of this run")
	list.Flags().StringVar(&q.Action, "action", "", "only actions starting with this (e.g. revocation.)")
	list.Flags().StringVar(&from, "from", "", "only events at or after this RFC 3339 time or date")
	list.Flags().StringVar(&to, "to", "", "only events before this RFC 3339 time or date")
	list.Flags().IntVar(&q.Limit, "limit", 0, "at most this many events")
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the hash chain; name the first event that does not match",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				res, err := e.VerifyAudit(cmd.Context())
				if err != nil {
					return err
				}
				if err := output(cmd, g, res, func(w io.Writer) error {
					if res.Broken != nil {
						_, err := fmt.Fprintf(w, "BROKEN: %v\n%d event(s) before it verify\n", res.Broken, res.Events)
						return err
					}
					_, err := fmt.Fprintf(w, "ok: %d event(s) verify; chain head %s\n", res.Events, dash(res.Head))
					return err
				}); err != nil {
					return err
				}
				if res.Broken != nil {
					return res.Broken
				}
				return nil
			})
		},
	}
	var eq store.AuditQuery
	var efrom, eto, format string
	export := &cobra.Command{
		Use:   "export [--format csv|json] [--from] [--to] [--rule] [--identity]",
		Short: "Write the evidence an auditor asks for, with the chain's head hash",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if eq.From, err = parseTime(efrom, "--from"); err != nil {
				return err
			}
			if eq.To, err = parseTime(eto, "--to"); err != nil {
				return err
			}
			if format != "csv" && format != "json" {
				return usagef("--format must be csv or json, got %q", format)
			}
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				return e.ExportAudit(cmd.Context(), eq, format, cmd.OutOrStdout())
			})
		},
	}
	export.Flags().StringVar(&format, "format", "csv", "csv or json")
	export.Flags().StringVar(&efrom, "from", "", "events at or after this RFC 3339 time or date")
	export.Flags().StringVar(&eto, "to", "", "events before this RFC 3339 time or date")
	export.Flags().StringVar(&eq.RuleID, "rule", "", "only events of this rule")
	export.Flags().StringVar(&eq.IdentityID, "identity", "", "only events of this identity (source/externalId)")
	a.AddCommand(list, verify, export)
	return a
}

func parseTime(s, flag string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("%s %q: want an RFC 3339 time (2026-11-30T17:00:00Z) or date (2026-11-30)", flag, s)
}
