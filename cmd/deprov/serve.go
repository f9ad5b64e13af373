package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/deprov/deprov/api"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/identity/scimsource"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/web"
)

func serveCmd(g *globals) *cobra.Command {
	var addr, logFormat, node string
	var rescue, attempt time.Duration
	cmd := &cobra.Command{
		Use:   "serve [--addr :8080]",
		Short: "Run the scheduler, the revocation workers and the HTTP endpoints",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return usagef("--addr %s: %v", addr, err)
			}
			log, err := newLogger(cmd.ErrOrStderr(), logFormat)
			if err != nil {
				return err
			}
			return serve(ctx, st, ln, log, engine.Options{RescueAfter: rescue, AttemptTimeout: attempt, Node: node}, nil)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", ":8080", "address to listen on")
	cmd.Flags().StringVar(&logFormat, "log-format", "json", "log lines as json or text")
	cmd.Flags().StringVar(&node, "node", "", "this node's name in the audit (worker:<node>); default host:pid")
	cmd.Flags().DurationVar(&attempt, "attempt-timeout", 2*time.Minute, "how long one attempt of a revocation may take")
	cmd.Flags().DurationVar(&rescue, "rescue-after", 5*time.Minute, "how long a revocation may stay running before another worker takes it over (after a node died); at least the attempt timeout + 10s")
	return cmd
}

// newLogger logs to w, the command's standard error.
func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usagef("--log-format must be json or text, got %q", format)
}

// buildVersion is the module version the binary was built from.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// serve runs the engine's workers and the HTTP server on ln until ctx ends.
// extra, when set, adds routes (the demo's sandbox application).
func serve(ctx context.Context, st store.Store, ln net.Listener, log *slog.Logger, o engine.Options, extra func(*http.ServeMux)) error {
	metrics := api.NewMetrics()
	o.Store, o.Logger, o.Observer = st, log, metrics
	e, err := engine.New(o)
	if err != nil {
		return err
	}
	defer e.Close()
	a, err := api.New(api.Options{
		Engine: e, Logger: log, Version: buildVersion(), Metrics: metrics,
		BootstrapToken: os.Getenv(api.BootstrapTokenEnv),
	})
	if err != nil {
		return err
	}
	console, err := web.New(web.Options{API: a, Engine: e, Logger: log})
	if err != nil {
		return err
	}
	if err := e.Start(ctx); err != nil {
		return err
	}
	mux := http.NewServeMux()
	h := a.Handler()
	for _, p := range []string{"/api/", "GET /openapi.json", "GET /metrics", "GET /healthz", "GET /readyz"} {
		mux.Handle(p, h)
	}
	mux.Handle("/scim/v2/", a.Middleware(scimsource.New(scimsource.Options{Sources: e.PushSources, Sink: e, Logger: log})))
	mux.Handle("/", console.Handler())
	if extra != nil {
		extra(mux)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("deprov serving", "addr", ln.Addr().String())
	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down: letting running revocations finish")
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if serr := e.Stop(sctx); serr != nil {
		log.Error("stop workers", "error", serr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
