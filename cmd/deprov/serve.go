package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/identity/scimsource"
	"github.com/deprov/deprov/store"
)

func serveCmd(g *globals) *cobra.Command {
	var addr string
	var rescue time.Duration
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
			return serve(ctx, st, ln, newLogger(), engine.Options{RescueAfter: rescue}, nil)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", ":8080", "address to listen on")
	cmd.Flags().DurationVar(&rescue, "rescue-after", 5*time.Minute, "how long a revocation may stay running before another worker takes it over (after a node died); more than 2m")
	return cmd
}

func newLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// serve runs the engine's workers and the HTTP server on ln until ctx ends.
// extra, when set, adds routes (the demo's sandbox application).
func serve(ctx context.Context, st store.Store, ln net.Listener, log *slog.Logger, o engine.Options, extra func(*http.ServeMux)) error {
	o.Store, o.Logger = st, log
	e, err := engine.New(o)
	if err != nil {
		return err
	}
	defer e.Close()
	if err := e.Start(ctx); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := st.ConfigVersion(r.Context()); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("/scim/v2/", scimsource.New(scimsource.Options{Sources: e.PushSources, Sink: e, Logger: log}))
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
