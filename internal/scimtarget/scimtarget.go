// Package scimtarget starts a real SCIM 2.0 application for tests: SCIMMY
// (a full RFC 7643/7644 implementation on Node.js) over in-memory storage,
// from the server/ folder beside this file. Its helpers talk to the target
// with plain net/http, so a SCIM client under test is checked against the
// server and not against itself.
package scimtarget

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	installTimeout = 5 * time.Minute
	startTimeout   = 20 * time.Second
	readyPrefix    = "scimtarget ready port="
)

// Target is a running SCIMMY server.
type Target struct {
	// URL is the SCIM base URL, ending in /scim/v2.
	URL string
	// Token is the bearer token the target accepts.
	Token string

	root   string // http://127.0.0.1:PORT
	client *http.Client
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	stop   sync.Once
}

// Request is one SCIM request as the target saw it.
type Request struct {
	Method string
	// Path is the request path without the query, such as /scim/v2/Users.
	Path string
	// Query is the raw query string.
	Query string
	// Time is when the request arrived, to the millisecond.
	Time time.Time
	// Status is the status answered.
	Status int
}

// Start starts a fresh target on a free loopback port and stops it when the
// test ends. Without Node.js it skips the test, or fails it under CI=true.
func Start(t testing.TB) *Target {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatalf("scimtarget: %s", msg)
		}
		t.Skipf("scimtarget: %s (install Node.js with `apt-get install nodejs npm`, or run ./scripts/test)", msg)
	}
	dir, err := serverDir()
	if err != nil {
		unavailable("%v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("node not found in PATH")
	}
	if err := install(dir); err != nil {
		unavailable("%v", err)
	}
	tg, err := start(node, dir)
	if err != nil {
		unavailable("%v", err)
	}
	t.Cleanup(tg.Stop)
	return tg
}

// serverDir finds server/ beside this file, or from the module root when the
// binary was built with -trimpath.
func serverDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "server")
		if _, err := os.Stat(filepath.Join(dir, "server.js")); err == nil {
			return dir, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "internal", "scimtarget", "server"), nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("cannot find internal/scimtarget/server")
		}
	}
}

// install runs npm once for every test process on the machine: the lock
// keeps concurrent test packages from installing over each other.
func install(dir string) error {
	unlock, err := lock(filepath.Join(dir, ".install.lock"))
	if err != nil {
		return fmt.Errorf("lock server folder: %w", err)
	}
	defer unlock()
	// npm writes this file last, so its presence means a complete install.
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return errors.New("npm not found in PATH and server/node_modules is missing")
	}
	args := []string{"ci", "--no-audit", "--no-fund"}
	if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err != nil {
		args[0] = "install"
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm %s in %s: %v\n%s", args[0], dir, err, tail(out))
	}
	return nil
}

func start(node, dir string) (*Target, error) {
	token := randomToken()
	cmd := exec.Command(node, "server.js", "0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SCIMTARGET_TOKEN="+token)
	cmd.SysProcAttr = sysProcAttr()
	stderr := new(syncBuffer)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	done := make(chan struct{})
	ports := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), readyPrefix); ok {
				if n, err := strconv.Atoi(p); err == nil {
					ports <- n
				}
			}
		}
		_ = cmd.Wait() // after stdout is drained, as os/exec asks
		close(done)
	}()
	tg := &Target{Token: token, client: &http.Client{Timeout: 10 * time.Second}, cmd: cmd, done: done}

	var port int
	select {
	case port = <-ports:
	case <-done:
		return nil, fmt.Errorf("server exited before it was ready: %s\n%s", cmd.ProcessState, tail(stderr.Bytes()))
	case <-time.After(startTimeout):
		tg.Stop()
		return nil, fmt.Errorf("server not ready after %s\n%s", startTimeout, tail(stderr.Bytes()))
	}
	tg.root = fmt.Sprintf("http://127.0.0.1:%d", port)
	tg.URL = tg.root + "/scim/v2"
	if err := tg.waitServing(); err != nil {
		tg.Stop()
		return nil, err
	}
	return tg, nil
}

// waitServing polls until the SCIM endpoint answers, with a deadline.
func (tg *Target) waitServing() error {
	deadline := time.Now().Add(startTimeout)
	for {
		status, err := tg.call(http.MethodGet, tg.URL+"/ServiceProviderConfig", nil, nil)
		if err == nil && status == http.StatusOK {
			return tg.call2xx(http.MethodPost, tg.root+"/_admin/reset", nil, nil)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not answering at %s: status %d, %v", tg.URL, status, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server; the target's port is then closed. It is safe to
// call more than once and runs at the end of the test anyway.
func (tg *Target) Stop() {
	tg.stop.Do(func() {
		_ = tg.cmd.Process.Kill()
		<-tg.done
	})
}

// CreateUser creates a user with an email (userName@example.com), an
// externalId (ext-userName) and a displayName, and returns its id.
func (tg *Target) CreateUser(t testing.TB, userName string, active bool) string {
	t.Helper()
	user := map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    userName,
		"active":      active,
		"externalId":  "ext-" + userName,
		"displayName": "User " + userName,
		"emails":      []map[string]any{{"value": userName + "@example.com", "type": "work", "primary": true}},
	}
	var out struct{ ID string }
	tg.must(t, tg.call2xx(http.MethodPost, tg.URL+"/Users", user, &out))
	return out.ID
}

// CreateGroup creates a group with these member user ids and returns its id.
func (tg *Target) CreateGroup(t testing.TB, name string, memberIDs ...string) string {
	t.Helper()
	group := map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": name,
	}
	if len(memberIDs) > 0 {
		members := make([]map[string]string, len(memberIDs))
		for i, id := range memberIDs {
			members[i] = map[string]string{"value": id}
		}
		group["members"] = members
	}
	var out struct{ ID string }
	tg.must(t, tg.call2xx(http.MethodPost, tg.URL+"/Groups", group, &out))
	return out.ID
}

// SetActive turns a user on or off, as an administrator of the target
// would.
func (tg *Target) SetActive(t testing.TB, userID string, active bool) {
	t.Helper()
	op := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "path": "active", "value": active}},
	}
	tg.must(t, tg.call2xx(http.MethodPatch, tg.URL+"/Users/"+url.PathEscape(userID), op, nil))
}

// SetMembers replaces a group's members, as an administrator of the target
// would.
func (tg *Target) SetMembers(t testing.TB, groupID string, memberIDs ...string) {
	t.Helper()
	members := make([]map[string]string, len(memberIDs))
	for i, id := range memberIDs {
		members[i] = map[string]string{"value": id}
	}
	op := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "path": "members", "value": members}},
	}
	tg.must(t, tg.call2xx(http.MethodPatch, tg.URL+"/Groups/"+url.PathEscape(groupID), op, nil))
}

// User reads a user as the target stores it; found is false after a delete.
func (tg *Target) User(t testing.TB, id string) (user map[string]any, found bool) {
	t.Helper()
	status, err := tg.call(http.MethodGet, tg.URL+"/Users/"+url.PathEscape(id), nil, &user)
	switch {
	case err != nil:
		t.Fatalf("scimtarget: get user %s: %v", id, err)
	case status == http.StatusNotFound:
		return nil, false
	case status != http.StatusOK:
		t.Fatalf("scimtarget: get user %s: status %d", id, status)
	}
	return user, true
}

// GroupMembers lists the user ids in a group.
func (tg *Target) GroupMembers(t testing.TB, groupID string) []string {
	t.Helper()
	var group struct {
		Members []struct{ Value string }
	}
	tg.must(t, tg.call2xx(http.MethodGet, tg.URL+"/Groups/"+url.PathEscape(groupID), nil, &group))
	ids := make([]string, 0, len(group.Members))
	for _, m := range group.Members {
		ids = append(ids, m.Value)
	}
	return ids
}

// Requests lists the SCIM requests that reached the target since it started
// or was last reset, oldest first. Helper calls are included.
func (tg *Target) Requests(t testing.TB) []Request {
	t.Helper()
	var raw []struct {
		Method, Path, Query string
		TimeMs              int64
		Status              int
	}
	tg.must(t, tg.call2xx(http.MethodGet, tg.root+"/_admin/requests", nil, &raw))
	out := make([]Request, len(raw))
	for i, r := range raw {
		out[i] = Request{Method: r.Method, Path: r.Path, Query: r.Query, Time: time.UnixMilli(r.TimeMs), Status: r.Status}
	}
	return out
}

// Reset empties the target: users, groups, request log, injected failures.
func (tg *Target) Reset(t testing.TB) {
	t.Helper()
	tg.must(t, tg.call2xx(http.MethodPost, tg.root+"/_admin/reset", nil, nil))
}

// FailNext makes the target answer its next n SCIM requests with status and
// these headers (such as Retry-After), before authentication, as an
// overloaded server or a proxy in front of it would.
func (tg *Target) FailNext(t testing.TB, n, status int, headers map[string]string) {
	t.Helper()
	body := map[string]any{"count": n, "status": status, "headers": headers}
	tg.must(t, tg.call2xx(http.MethodPost, tg.root+"/_admin/fail", body, nil))
}

func (tg *Target) must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("scimtarget: %v", err)
	}
}

func (tg *Target) call2xx(method, u string, body, out any) error {
	status, err := tg.call(method, u, body, out)
	if err == nil && status/100 != 2 {
		err = fmt.Errorf("%s %s: status %d", method, u, status)
	}
	return err
}

// call sends one request with the token and decodes a JSON answer into out.
func (tg *Target) call(method, u string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tg.Token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := tg.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode/100 == 2 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, u, err)
		}
	}
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusNotFound {
		return resp.StatusCode, fmt.Errorf("%s %s: status %d: %s", method, u, resp.StatusCode, tail(b))
	}
	return resp.StatusCode, nil
}

// syncBuffer collects a process's stderr while the test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tail keeps the end of a command's output, where the error usually is.
func tail(b []byte) string {
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}
