package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/postgres"
	"github.com/deprov/deprov/store/sqlite"
)

// globals are the flags every command takes.
type globals struct {
	db     string
	output string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "deprov",
		Short: "Identity-lifecycle deprovisioning: remove leavers' access from every application, on time, safely, with evidence.",
		Long: `deprov removes a person's access from every connected application when the
source of truth (HR, an IdP) says they have left, are inactive, or have passed
their end date: on time, safely, and with an audit trail.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.output != "table" && g.output != "json" {
				return usagef("-o must be table or json, got %q", g.output)
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&g.db, "db", cmp.Or(os.Getenv("DEPROV_DB"), "./deprov.db"), "database: a SQLite file path, or postgres://… (env DEPROV_DB)")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	root.AddCommand(
		serveCmd(g), demoCmd(g), migrateCmd(g), applyCmd(g), exportCmd(g), importCmd(g),
		syncCmd(g), aggregateCmd(g), runCmd(g), runsCmd(g), revocationsCmd(g), auditCmd(g), tokensCmd(g),
	)
	return root
}

// exactArgs is cobra.ExactArgs with a usage error (exit 2).
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("want %s, got %d argument(s)", names, len(args))
		}
		return nil
	}
}

// openStore opens and migrates the database.
func openStore(ctx context.Context, g *globals) (store.Store, error) {
	if strings.HasPrefix(g.db, "postgres://") || strings.HasPrefix(g.db, "postgresql://") {
		st, err := postgres.Open(ctx, g.db, postgres.Options{})
		if err != nil {
			return nil, err // the store's error never shows the password
		}
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("migrate: %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(g.db, sqlite.Options{})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", g.db, err)
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate %s: %w", g.db, err)
	}
	return st, nil
}

// withEngine opens the store and an engine for one command.
func withEngine(ctx context.Context, g *globals, logger *slog.Logger, fn func(*engine.Engine) error) error {
	st, err := openStore(ctx, g)
	if err != nil {
		return err
	}
	defer st.Close()
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	e, err := engine.New(engine.Options{Store: st, Logger: logger})
	if err != nil {
		return err
	}
	defer e.Close()
	return fn(e)
}

// actor names the person at the terminal for the audit.
func actor() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return "cli:" + cmp.Or(name, "unknown")
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows under a header, aligned.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// output prints v as JSON with -o json, else calls human.
func output(cmd *cobra.Command, g *globals, v any, human func(io.Writer) error) error {
	if g.output == "json" {
		return printJSON(cmd.OutOrStdout(), v)
	}
	return human(cmd.OutOrStdout())
}
