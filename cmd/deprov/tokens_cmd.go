package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/deprov/deprov/api"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
)

func tokensCmd(g *globals) *cobra.Command {
	tokens := &cobra.Command{
		Use:   "tokens",
		Short: "API tokens: create (shown once), list, revoke",
		Long: `API tokens authenticate scripts (Authorization: Bearer dpv_…) and console
logins. Roles: admin may do everything; operator may run rules, approve and
reject runs and held syncs, cancel, complete, reject and retry revocations,
undo runs, sync and aggregate; auditor may only read. A token's secret is
shown once, when it is created; deprov keeps only its SHA-256.`,
	}
	var role, name string
	create := &cobra.Command{
		Use:   "create --role admin|operator|auditor [--name NAME]",
		Short: "Create a token and print its secret, once",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := api.ParseRole(role)
			if err != nil {
				return usagef("--role %q: want admin, operator or auditor", role)
			}
			if name == "" {
				name = string(r) + "-" + time.Now().UTC().Format("20060102-150405")
			}
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				ct, err := api.CreateToken(cmd.Context(), e.Store(), name, r, actor())
				if err != nil {
					return err
				}
				return output(cmd, g, ct, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "%s token %q (id %d) created. Its secret, shown this once:\n\n  %s\n\n"+
						"Use it as: Authorization: Bearer %s\n", ct.Token.Role, ct.Token.Name, ct.Token.ID, ct.Secret, ct.Secret)
					return err
				})
			})
		},
	}
	create.Flags().StringVar(&role, "role", "", "admin, operator or auditor (required)")
	create.Flags().StringVar(&name, "name", "", "a name for the audit (token:NAME); default ROLE-DATE-TIME")
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens, revoked ones included",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				ts, err := e.Store().ListTokens(cmd.Context())
				if err != nil {
					return err
				}
				if ts == nil {
					ts = []store.Token{}
				}
				return output(cmd, g, ts, func(w io.Writer) error {
					rows := make([][]string, len(ts))
					for i, t := range ts {
						state := "active"
						if !t.RevokedAt.IsZero() {
							state = "revoked " + when(t.RevokedAt)
						}
						rows[i] = []string{strconv.FormatInt(t.ID, 10), t.Name, string(t.Role), when(t.CreatedAt), t.CreatedBy, when(t.LastUsed), state}
					}
					return table(w, []string{"ID", "NAME", "ROLE", "CREATED", "BY", "LAST USED", "STATE"}, rows)
				})
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: it and the console sessions started with it stop working at once",
		Args:  exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0], "ID")
			if err != nil {
				return err
			}
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				t, err := api.RevokeToken(cmd.Context(), e.Store(), id, actor())
				switch {
				case errors.Is(err, store.ErrNotFound):
					return usagef("unknown token %d", id)
				case errors.Is(err, store.ErrConflict):
					return usagef("token %d is already revoked", id)
				case err != nil:
					return err
				}
				return output(cmd, g, t, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "token %d (%s, %s) revoked\n", t.ID, t.Name, t.Role)
					return err
				})
			})
		},
	}
	tokens.AddCommand(create, list, revoke)
	return tokens
}
