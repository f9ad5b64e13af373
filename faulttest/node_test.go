package faulttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// node is one `deprov serve` process.
type node struct {
	name string
	cmd  *exec.Cmd
	log  *logBuffer
	addr string        // where it serves HTTP
	done chan struct{} // closed when the process has exited
	err  error         // the process's exit, once done is closed

	mu      sync.Mutex
	stopped bool // the test killed or stopped it
}

// startNode starts `deprov serve` on the rig's database and waits until it
// serves (its workers are started by then). It is stopped when the test ends.
func (r *rig) startNode(name string) *node {
	r.t.Helper()
	args := append([]string{"serve", "--db", r.o.db, "--addr", "127.0.0.1:0", "--log-format", "json", "--node", name}, rescueFlags...)
	n := &node{name: name, cmd: exec.Command(r.bin, args...), log: &logBuffer{}, done: make(chan struct{})}
	n.cmd.Dir, n.cmd.Env = r.dir, r.env
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.cmd.SysProcAttr = sysProcAttr()
	if err := n.cmd.Start(); err != nil {
		r.t.Fatalf("start node %s: %v", name, err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.done)
	}()
	r.nodes = append(r.nodes, n)
	r.t.Cleanup(n.stop)
	deadline := time.Now().Add(time.Minute)
	for {
		for _, l := range n.log.lines() {
			if l.Msg == "deprov serving" {
				n.addr = l.Addr
				return n
			}
		}
		select {
		case <-n.done:
			r.t.Fatalf("node %s exited at start: %v\n%s", name, n.err, tail(n.log.String(), 40))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("node %s not serving after a minute:\n%s", name, tail(n.log.String(), 40))
		}
	}
}

// kill is kill -9: no shutdown, no chance to record anything.
func (n *node) kill() {
	n.mu.Lock()
	n.stopped = true
	n.mu.Unlock()
	_ = n.cmd.Process.Kill()
	<-n.done
}

// stop asks the node to shut down (SIGTERM: it lets running revocations
// finish) and kills it if it has not exited within 40 s.
func (n *node) stop() {
	n.mu.Lock()
	n.stopped = true
	n.mu.Unlock()
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(40 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// exitedUnexpectedly says the process ended without the test asking.
func (n *node) exitedUnexpectedly() bool {
	select {
	case <-n.done:
		n.mu.Lock()
		defer n.mu.Unlock()
		return !n.stopped
	default:
		return false
	}
}

// succeeded lists the revocations this node logged as succeeded.
func (n *node) succeeded() []int64 {
	var ids []int64
	for _, l := range n.log.lines() {
		if l.Msg == "revocation succeeded" {
			ids = append(ids, l.Revocation)
		}
	}
	return ids
}

// ready asks the node's /readyz, which answers 200 when it reaches its
// database.
func (n *node) ready() (int, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://%s/readyz", n.addr))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// logBuffer collects a node's log while the test reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLine is the part of a node's JSON log line the tests read.
type logLine struct {
	Level      string `json:"level"`
	Msg        string `json:"msg"`
	Addr       string `json:"addr"`
	Revocation int64  `json:"revocation"`
	Error      string `json:"error"`
}

// lines decodes the log's JSON lines, skipping any other output.
func (b *logBuffer) lines() []logLine {
	var out []logLine
	for _, s := range strings.Split(b.String(), "\n") {
		var l logLine
		if json.Unmarshal([]byte(s), &l) == nil && l.Msg != "" {
			out = append(out, l)
		}
	}
	return out
}
