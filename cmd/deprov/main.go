// Command deprov is the identity-lifecycle deprovisioning engine: one
// binary for the server, the scheduler and workers, and the operator CLI.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/engine"

	// The application types.
	_ "github.com/deprov/deprov/connector/ldap"
	_ "github.com/deprov/deprov/connector/manual"
	_ "github.com/deprov/deprov/connector/scim"
	_ "github.com/deprov/deprov/connector/webhook"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks bad usage or invalid input: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the CLI and maps errors to exit codes.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(root.ErrOrStderr(), "deprov:", err)
	if isUsage(err) {
		return exitUsage
	}
	return exitFailure
}

func isUsage(err error) bool {
	var u usageError
	var v *config.ValidationError
	return errors.As(err, &u) || errors.As(err, &v) || errors.Is(err, engine.ErrInvalid)
}
