package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/internal/testkit"
)

// syncBuffer collects output written from several goroutines.
type syncBuffer = testkit.Buffer

// background is a long-running deprov command (serve, demo) run in-process.
type background struct {
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan struct{}
	code           int // valid once done is closed
}

// startBackground runs deprov with args until stop is called or the test
// ends.
func startBackground(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.code = run(ctx, args, strings.NewReader(""), b.stdout, b.stderr)
	}()
	t.Cleanup(func() { b.stop(t) })
	return b
}

// stop cancels the command, as Ctrl-C does, and returns its exit code.
func (b *background) stop(t *testing.T) int {
	t.Helper()
	b.cancel()
	// serve gives running revocations 30 s to finish.
	select {
	case <-b.done:
	case <-time.After(40 * time.Second):
		t.Fatalf("the command did not stop within 40 s of its cancellation\nstderr:\n%s", b.stderr.String())
	}
	return b.code
}

// until polls cond every 100 ms until it holds, and fails the test when
// the timeout passes or the command exits first.
func (b *background) until(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-b.done:
			t.Fatalf("waiting for %s: the command exited with code %d\nstdout:\n%s\nstderr:\n%s", what, b.code, b.stdout.String(), b.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s\nstdout:\n%s\nstderr:\n%s", what, timeout, b.stdout.String(), b.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
