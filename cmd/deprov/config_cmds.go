package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
)

func migrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintln(cmd.OutOrStdout(), "schema is up to date:", g.db)
			return nil
		},
	}
}

func applyCmd(g *globals) *cobra.Command {
	var file string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--dry-run]",
		Short: "Apply a declarative configuration (applications, sources, rules)",
		Long: `Apply validates the whole file first and reports every problem with its path
(rules[0].schedule.cron: …). A file with any problem changes nothing. The file
replaces the stored configuration: what it does not list is removed.`,
		Args: exactArgs(0, "no arguments (the file goes with -f)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usagef("-f FILE is required")
			}
			data, err := readInput(cmd, file)
			if err != nil {
				return err
			}
			cfg, err := config.Parse(bytes.NewReader(data))
			if err != nil {
				return err
			}
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				changes, err := e.Apply(cmd.Context(), cfg, actor(), dryRun)
				if err != nil {
					return err
				}
				warnUnsetSecrets(cmd.ErrOrStderr(), cfg)
				return output(cmd, g, changes, func(w io.Writer) error {
					if len(changes) == 0 {
						fmt.Fprintln(w, "no changes")
						return nil
					}
					rows := make([][]string, len(changes))
					for i, c := range changes {
						rows[i] = []string{c.Op, c.Kind, c.ID}
					}
					if err := table(w, []string{"CHANGE", "KIND", "ID"}, rows); err != nil {
						return err
					}
					if dryRun {
						fmt.Fprintln(w, "dry run: nothing was changed")
					}
					return nil
				})
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "configuration file (YAML), or - for standard input")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate and show the changes without applying them")
	return cmd
}

// warnUnsetSecrets tells about ${env:NAME} references that this process
// cannot resolve: the server that opens the connector needs them.
func warnUnsetSecrets(w io.Writer, cfg config.Config) {
	for _, a := range cfg.Applications {
		if _, err := config.ExpandSettings(a.Connector.Settings); err != nil {
			fmt.Fprintf(w, "warning: application %s: %v here; set it where deprov serve runs\n", a.ID, err)
		}
	}
}

func readInput(cmd *cobra.Command, file string) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, usagef("read %s: %v", file, err)
	}
	return data, nil
}

func exportCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "Print the stored configuration as YAML (secrets never printed)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				cfg, _, err := e.Store().Config(cmd.Context())
				if err != nil {
					return err
				}
				if g.output == "json" {
					return printJSON(cmd.OutOrStdout(), config.Redacted(cfg))
				}
				out, err := config.Marshal(cfg)
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(out)
				return err
			})
		},
	}
}

func importCmd(g *globals) *cobra.Command {
	imp := &cobra.Command{Use: "import", Short: "One-off loads"}
	var source string
	ids := &cobra.Command{
		Use:   "identities --source ID FILE.csv",
		Short: "Load identities from a CSV file into a source (all rows or none)",
		Args:  exactArgs(1, "FILE.csv"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if source == "" {
				return usagef("--source is required")
			}
			f, err := os.Open(args[0])
			if err != nil {
				return usagef("open %s: %v", args[0], err)
			}
			defer f.Close()
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				res, err := e.Import(cmd.Context(), source, f, args[0], actor())
				if err != nil {
					return err
				}
				return printSync(cmd, g, res)
			})
		},
	}
	ids.Flags().StringVar(&source, "source", "", "the source the identities belong to")
	imp.AddCommand(ids)
	return imp
}

func syncCmd(g *globals) *cobra.Command {
	sync := &cobra.Command{
		Use:   "sync SOURCE",
		Short: "Read a source now; list, approve or reject deliveries the feed guard held",
		Args:  exactArgs(1, "SOURCE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				res, err := e.Sync(cmd.Context(), args[0], actor())
				if err != nil {
					return err
				}
				return printSync(cmd, g, res)
			})
		},
	}
	held := &cobra.Command{
		Use:   "held [--source ID]",
		Short: "List deliveries the feed guard held",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, _ := cmd.Flags().GetString("source")
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				hs, err := e.Store().ListHeldSyncs(cmd.Context(), store.HeldSyncQuery{SourceID: src})
				if err != nil {
					return err
				}
				return output(cmd, g, hs, func(w io.Writer) error {
					rows := make([][]string, len(hs))
					for i, h := range hs {
						rows[i] = []string{strconv.FormatInt(h.ID, 10), h.SourceID, string(h.State), strconv.Itoa(h.Rows), when(h.CreatedAt), dash(h.ResolvedBy), h.Reason}
					}
					return table(w, []string{"HELD", "SOURCE", "STATE", "ROWS", "RECEIVED", "RESOLVED BY", "REASON"}, rows)
				})
			})
		},
	}
	held.Flags().String("source", "", "only this source's")
	approve := &cobra.Command{
		Use:   "approve HELD",
		Short: "Apply a held delivery as it was received",
		Args:  exactArgs(1, "HELD"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0], "HELD")
			if err != nil {
				return err
			}
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				res, err := e.ApproveSync(cmd.Context(), id, actor())
				if err != nil {
					return err
				}
				return printSync(cmd, g, res)
			})
		},
	}
	var reason string
	reject := &cobra.Command{
		Use:   "reject HELD [--reason TEXT]",
		Short: "Discard a held delivery",
		Args:  exactArgs(1, "HELD"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0], "HELD")
			if err != nil {
				return err
			}
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				h, err := e.RejectSync(cmd.Context(), id, reason, actor())
				if err != nil {
					return err
				}
				return output(cmd, g, h, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "held delivery %d of source %s rejected: nothing was applied\n", h.ID, h.SourceID)
					return err
				})
			})
		},
	}
	reject.Flags().StringVar(&reason, "reason", "", "why, for the audit")
	sync.AddCommand(held, approve, reject)
	return sync
}

func printSync(cmd *cobra.Command, g *globals, res engine.SyncReport) error {
	return output(cmd, g, res, func(w io.Writer) error {
		if h := res.Held; h != nil {
			_, err := fmt.Fprintf(w, "held as delivery %d, nothing applied: %s\napprove with: deprov sync approve %d   (or reject with: deprov sync reject %d)\n", h.ID, h.Reason, h.ID, h.ID)
			return err
		}
		r := res.SyncResult
		return table(w, []string{"CREATED", "UPDATED", "UNCHANGED", "STATUS CHANGED"},
			[][]string{{strconv.Itoa(r.Created), strconv.Itoa(r.Updated), strconv.Itoa(r.Unchanged), strconv.Itoa(r.StatusChanged)}})
	})
}

func aggregateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "aggregate APP",
		Short: "List an application's accounts and correlate them to identities",
		Args:  exactArgs(1, "APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withEngine(cmd.Context(), g, nil, func(e *engine.Engine) error {
				res, err := e.Aggregate(cmd.Context(), args[0], actor())
				if err != nil {
					return err
				}
				return output(cmd, g, res, func(w io.Writer) error {
					return table(w, []string{"ACCOUNTS", "CORRELATED", "UNCORRELATED", "REMOVED"},
						[][]string{{strconv.Itoa(res.Accounts), strconv.Itoa(res.Correlated), strconv.Itoa(res.Uncorrelated), strconv.Itoa(res.Removed)}})
				})
			})
		},
	}
}
