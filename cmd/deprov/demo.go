package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/internal/sandbox"
)

func demoCmd(g *globals) *cobra.Command {
	var addr, dir string
	cmd := &cobra.Command{
		Use:   "demo [--addr 127.0.0.1:8080] [--dir DIR]",
		Short: "Serve on a fresh database with example identities, rules and a sandbox SCIM application",
		Long: `Demo starts "deprov serve" on a fresh embedded database in a new directory,
with five example identities from an HR CSV file, two rules, and a sandbox SCIM
2.0 application served in-process. The "leavers" rule fires every 20 seconds:
within a minute the log shows the leavers disabled in the sandbox application.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if dir == "" {
				d, err := os.MkdirTemp("", "deprov-demo-")
				if err != nil {
					return err
				}
				dir = d
			} else if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			dbPath := filepath.Join(dir, "deprov.db")
			if _, err := os.Stat(dbPath); err == nil {
				return usagef("--dir %s already holds a database; the demo starts from a fresh one", dir)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return usagef("--addr %s: %v", addr, err)
			}
			base := "http://" + ln.Addr().String()
			log, err := newLogger(cmd.ErrOrStderr(), "text")
			if err != nil {
				return err
			}
			token := randomToken()
			// The demo's secret reaches the config the way production secrets
			// do: by reference to the environment, never written to disk.
			os.Setenv("DEPROV_DEMO_SANDBOX_TOKEN", token)
			app := sandbox.New(token, log)
			seedSandbox(app)

			hrPath := filepath.Join(dir, "hr.csv")
			if err := os.WriteFile(hrPath, []byte(demoCSV(time.Now())), 0o600); err != nil {
				return err
			}
			cfgPath := filepath.Join(dir, "deprov.yaml")
			if err := os.WriteFile(cfgPath, []byte(demoConfig(base, hrPath)), 0o600); err != nil {
				return err
			}
			g.db = dbPath
			st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()

			mux := http.NewServeMux()
			mux.Handle("/sandbox/scim/v2/", http.StripPrefix("/sandbox/scim/v2", app))
			mux.HandleFunc("GET /sandbox", func(w http.ResponseWriter, _ *http.Request) { printSandbox(w, app) })
			srvErr := make(chan error, 1)
			started := make(chan struct{})
			go func() {
				srvErr <- serve(ctx, st, ln, log, engine.Options{}, httpOptions{}, func(m *http.ServeMux) {
					m.Handle("/sandbox/", mux)
					m.Handle("GET /sandbox", mux)
					close(started)
				})
			}()
			// serve fails before adding the routes when, say, the engine
			// cannot start; the demo then stops instead of waiting forever.
			select {
			case <-started:
			case err := <-srvErr:
				if err == nil {
					err = errors.New("the server stopped before it started")
				}
				return err
			}

			e, err := engine.New(engine.Options{Store: st, Logger: log})
			if err != nil {
				return err
			}
			defer e.Close()
			f, err := os.Open(cfgPath)
			if err != nil {
				return err
			}
			cfg, err := config.Parse(f)
			f.Close()
			if err != nil {
				return err
			}
			if _, err := e.Apply(ctx, cfg, "demo", false); err != nil {
				return fmt.Errorf("demo configuration: %w", err)
			}
			if _, err := e.Sync(ctx, "hr", "demo"); err != nil {
				return err
			}
			if _, err := e.Aggregate(ctx, "sandbox", "demo"); err != nil {
				return err
			}
			self, _ := os.Executable()
			cli := "go run ./cmd/deprov"
			if !strings.Contains(self, "go-build") {
				cli = self
			}
			fmt.Fprintf(out, `
deprov demo is running.
  directory     %[1]s  (database deprov.db, config deprov.yaml, HR feed hr.csv)
  console       %[2]s/  (sign in with the first admin token, shown once in the log above)
  sandbox app   %[2]s/sandbox/scim/v2  (accounts: %[2]s/sandbox)
  rules         "leavers" disables terminated staff and staff past their end date, every 20 s;
                "inactive" removes group memberships of inactive staff after a 3-day grace period.

Watch this log: within a minute, "revocation succeeded" lines show bob and carol
disabled in the sandbox, and "sandbox: account disabled" lines show the
application receiving it. In another terminal:
  %[3]s --db %[4]s runs list
  %[3]s --db %[4]s revocations list
  %[3]s --db %[4]s audit list
  %[3]s --db %[4]s run inactive --dry-run
Stop with Ctrl-C.

`, dir, base, cli, dbPath)
			return <-srvErr
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the demo's files (default: a new temporary directory)")
	return cmd
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func seedSandbox(app *sandbox.App) {
	ids := map[string]string{}
	for _, u := range [][3]string{
		{"alice", "Alice Active", "alice@example.com"},
		{"bob", "Bob Terminated", "bob@example.com"},
		{"carol", "Carol Contract-Ended", "carol@example.com"},
		{"dave", "Dave Inactive", "dave@example.com"},
		{"erin", "Erin Board-Member", "erin@example.com"},
	} {
		ids[u[0]] = app.Seed(u[0], u[1], u[2])
	}
	app.AddGroup("engineering", ids["alice"], ids["bob"], ids["dave"])
	app.AddGroup("finance", ids["carol"], ids["dave"], ids["erin"])
}

// demoCSV is the HR feed: one active, one terminated, one past the end of
// a fixed-term contract, one inactive, and one terminated board member
// whom the rule's scope leaves alone.
func demoCSV(now time.Time) string {
	past := now.AddDate(0, 0, -2).Format(time.DateOnly)
	future := now.AddDate(0, 3, 0).Format(time.DateOnly)
	return "employee_id,login,email,full_name,status,end_date,department,contract\n" +
		"E001,alice,alice@example.com,Alice Active,ACTIVE," + future + ",engineering,permanent\n" +
		"E002,bob,bob@example.com,Bob Terminated,TERMINATED,,engineering,permanent\n" +
		"E003,carol,carol@example.com,Carol Contract-Ended,ACTIVE," + past + ",finance,fixed-term\n" +
		"E004,dave,dave@example.com,Dave Inactive,INACTIVE,,engineering,permanent\n" +
		"E005,erin,erin@example.com,Erin Board-Member,TERMINATED,,board,permanent\n"
}

func demoConfig(base, hrPath string) string {
	return `applications:
  - id: sandbox
    name: Sandbox SCIM application
    connector:
      type: scim
      url: ` + base + `/sandbox/scim/v2
      token: ${env:DEPROV_DEMO_SANDBOX_TOKEN}
    correlation: {account: userName, identity: userName}
    action: disable

sources:
  - id: hr
    type: csv
    path: ` + hrPath + `
    columns: {externalId: employee_id, userName: login, email: email, displayName: full_name, status: status, endDate: end_date, department: department}
    schedule: {cron: "*/5 * * * *"}

rules:
  - id: leavers
    name: Leavers
    trigger:
      statuses: [TERMINATED]
      endDate: {offsetDays: 0}
    scope: 'user.department != "board"'
    gracePeriodDays: 0
    action: disable
    processAllocationSize: 4
    schedule: {cron: "0/20 * * * * ?", timezone: UTC, active: true}
    safety: {maxUsers: 50}
  - id: inactive
    name: Inactive staff lose their groups
    trigger:
      statuses: [INACTIVE]
    gracePeriodDays: 3
    action: {default: revoke}
    schedule: {cron: "0 2 * * *", timezone: Europe/Berlin, active: true}
`
}

func printSandbox(w io.Writer, app *sandbox.App) {
	rows := [][]string{}
	for _, u := range app.Users() {
		state := "active"
		if !u.Active {
			state = "disabled"
		}
		rows = append(rows, []string{u.UserName, u.DisplayName, state, strings.Join(u.Groups, ",")})
	}
	_ = table(w, []string{"USER", "NAME", "STATE", "GROUPS"}, rows)
}
