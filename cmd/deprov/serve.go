package main

import (
	"context"
	"crypto/tls"
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
	var addr, logFormat, node, certFile, keyFile string
	var rescue, attempt time.Duration
	var secureCookies bool
	cmd := &cobra.Command{
		Use:   "serve [--addr :8080] [--tls-cert FILE --tls-key FILE] [--secure-cookies]",
		Short: "Run the scheduler, the revocation workers and the HTTP endpoints",
		Long: `Serve runs the scheduler, the revocation workers, the API, the SCIM push
endpoint and the console. With --tls-cert and --tls-key it serves HTTPS, and
the console's session cookies are marked Secure. Behind a proxy that
terminates TLS, serve plain HTTP with --secure-cookies instead, so that
browsers send the session cookie over HTTPS only.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// Bad flags fail before the database is opened or created.
			log, err := newLogger(cmd.ErrOrStderr(), logFormat)
			if err != nil {
				return err
			}
			h := httpOptions{secureCookies: secureCookies}
			if h.tls, err = loadTLS(certFile, keyFile); err != nil {
				return err
			}
			st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return usagef("--addr %s: %v", addr, err)
			}
			return serve(ctx, st, ln, log, engine.Options{RescueAfter: rescue, AttemptTimeout: attempt, Node: node}, h, nil)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", ":8080", "address to listen on")
	cmd.Flags().StringVar(&logFormat, "log-format", "json", "log lines as json or text")
	cmd.Flags().StringVar(&node, "node", "", "this node's name in the audit (worker:<node>); default host:pid")
	cmd.Flags().DurationVar(&attempt, "attempt-timeout", 2*time.Minute, "how long one attempt of a revocation may take")
	cmd.Flags().DurationVar(&rescue, "rescue-after", 5*time.Minute, "how long a revocation may stay running before another worker takes it over (after a node died); at least the attempt timeout + 10s")
	cmd.Flags().StringVar(&certFile, "tls-cert", "", "serve HTTPS with this PEM certificate (chain); needs --tls-key")
	cmd.Flags().StringVar(&keyFile, "tls-key", "", "the PEM private key of --tls-cert")
	cmd.Flags().BoolVar(&secureCookies, "secure-cookies", false, "mark session cookies Secure when a proxy in front terminates TLS (implied by --tls-cert)")
	return cmd
}

// httpOptions are how serve speaks HTTP.
type httpOptions struct {
	// tls, when set, makes serve answer HTTPS only.
	tls *tls.Config
	// secureCookies marks the session cookie Secure; TLS implies it.
	secureCookies bool
}

// loadTLS reads --tls-cert and --tls-key: both or neither. Neither is a
// nil config (plain HTTP). The files are read once, at start.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case keyFile == "":
		return nil, usagef("--tls-cert needs --tls-key: give both to serve HTTPS, or neither")
	case certFile == "":
		return nil, usagef("--tls-key needs --tls-cert: give both to serve HTTPS, or neither")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, usagef("--tls-cert %s, --tls-key %s: %v", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
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
func serve(ctx context.Context, st store.Store, ln net.Listener, log *slog.Logger, o engine.Options, h httpOptions, extra func(*http.ServeMux)) error {
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
		Secure:         h.secureCookies || h.tls != nil,
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
	ah := a.Handler()
	for _, p := range []string{"/api/", "GET /openapi.json", "GET /metrics", "GET /healthz", "GET /readyz"} {
		mux.Handle(p, ah)
	}
	mux.Handle("/scim/v2/", a.Middleware(scimsource.New(scimsource.Options{Sources: e.PushSources, Sink: e, Logger: log})))
	mux.Handle("/", console.Handler())
	if extra != nil {
		extra(mux)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), TLSConfig: h.tls}
	errc := make(chan error, 1)
	go func() {
		if h.tls != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	log.Info("deprov serving", "addr", ln.Addr().String(), "tls", h.tls != nil, "secureCookies", h.secureCookies || h.tls != nil)
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
