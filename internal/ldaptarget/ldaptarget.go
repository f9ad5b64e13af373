// Package ldaptarget starts a real OpenLDAP slapd for tests: an mdb
// database for dc=example,dc=com in a temporary folder, with the ppolicy
// (account lock), memberof and refint (memberships follow renames and
// deletes) overlays, on free loopback ports, optionally with TLS (LDAPS and
// StartTLS) under a CA the test generates. Its helpers read and change the
// directory as the administrator, so a connector under test is checked
// against the directory itself.
package ldaptarget

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The directory's fixed layout.
const (
	Suffix     = "dc=example,dc=com"
	AdminDN    = "cn=admin," + Suffix
	PeopleDN   = "ou=people," + Suffix
	GroupsDN   = "ou=groups," + Suffix
	DisabledDN = "ou=disabled," + Suffix
	// PolicyDN is the default password policy, with pwdLockout: TRUE, so
	// that pwdAccountLockedTime makes binds fail.
	PolicyDN = "cn=default,ou=policies," + Suffix
)

// InstallHint says how to get slapd where it is missing.
const InstallHint = "echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections && " +
	"DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils, or run ./scripts/test"

const (
	startTimeout = 20 * time.Second
	stopTimeout  = 5 * time.Second
)

// Target is a running slapd.
type Target struct {
	// URL is ldap://127.0.0.1:PORT. With TLS, StartTLS works on it.
	URL string
	// LDAPSURL is ldaps://127.0.0.1:PORT when started WithTLS, else empty.
	LDAPSURL string
	// CAFile is the PEM file of the CA that signed the server certificate
	// (for 127.0.0.1 and localhost), when started WithTLS.
	CAFile string
	// AdminPassword is the password of AdminDN, the rootdn.
	AdminPassword string

	slapd string
	conf  string
	urls  string // slapd's -h argument

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{} // closed when cmd has exited
	log   *syncBuffer
	admin *ldap.Conn // helpers' connection, reopened after a restart
}

// Option changes how Start configures the target.
type Option func(*options)

type options struct{ tls bool }

// WithTLS gives the target a certificate from a fresh CA (Target.CAFile),
// StartTLS on URL, and an LDAPS listener (Target.LDAPSURL).
func WithTLS() Option { return func(o *options) { o.tls = true } }

// Start starts a fresh, seeded target and stops it when the test ends.
// Without slapd it skips the test with an install hint, or fails it under
// CI=true.
func Start(t testing.TB, opts ...Option) *Target {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	inst, err := findInstall()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ldaptarget: %v (install: %s)", err, InstallHint)
		}
		t.Skipf("ldaptarget: %v (install: %s)", err, InstallHint)
	}
	dir := t.TempDir()
	tg := &Target{slapd: inst.slapd, AdminPassword: randomPassword()}

	var lastErr error
	for range 3 { // a free port can be taken between finding and binding it
		if lastErr = tg.configure(dir, inst, o); lastErr != nil {
			break
		}
		if lastErr = tg.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("ldaptarget: %v", lastErr)
	}
	t.Cleanup(tg.Stop)
	if err := tg.seed(); err != nil {
		t.Fatalf("ldaptarget: seed: %v", err)
	}
	return tg
}

// configure writes slapd.conf (and certificates) into dir with fresh ports.
func (tg *Target) configure(dir string, inst install, o options) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	tg.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	tg.urls = tg.URL
	var tls *tlsFiles
	if o.tls {
		sport, err := freePort()
		if err != nil {
			return err
		}
		tg.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", sport)
		tg.urls += " " + tg.LDAPSURL
		if tls, err = writeCerts(dir); err != nil {
			return fmt.Errorf("certificates: %w", err)
		}
		tg.CAFile = tls.ca
	}
	db := filepath.Join(dir, "db")
	if err := os.MkdirAll(db, 0o700); err != nil {
		return err
	}
	tg.conf = filepath.Join(dir, "slapd.conf")
	return os.WriteFile(tg.conf, []byte(slapdConf(inst, dir, tg.AdminPassword, tls)), 0o600)
}

// start runs slapd in the foreground (-d 0) under this process and waits
// until the administrator can bind.
func (tg *Target) start() error {
	cmd := exec.Command(tg.slapd, "-f", tg.conf, "-h", tg.urls, "-d", "0")
	cmd.SysProcAttr = sysProcAttr()
	log := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	tg.mu.Lock()
	tg.cmd, tg.done, tg.log = cmd, done, log
	tg.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		conn, err := ldap.DialURL(tg.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			err = conn.Bind(AdminDN, tg.AdminPassword)
			if err == nil {
				tg.mu.Lock()
				tg.admin = conn
				tg.mu.Unlock()
				return nil
			}
			conn.Close()
		}
		select {
		case <-done:
			return fmt.Errorf("slapd exited before it was ready (%s): %s", cmd.ProcessState, tail(log.Bytes()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tg.Stop()
			return fmt.Errorf("slapd not ready after %s: %v: %s", startTimeout, err, tail(log.Bytes()))
		}
	}
}

// Stop stops slapd; its ports are then closed. It is safe to call more
// than once and runs at the end of the test anyway.
func (tg *Target) Stop() {
	tg.mu.Lock()
	cmd, done, admin := tg.cmd, tg.done, tg.admin
	tg.cmd, tg.admin = nil, nil
	tg.mu.Unlock()
	if admin != nil {
		admin.Close()
	}
	if cmd == nil {
		return
	}
	// SIGTERM lets slapd close the database cleanly, for a restart.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart stops slapd and starts it again on the same ports with the same
// data, as an administrator's restart would: open connections break.
func (tg *Target) Restart(t testing.TB) {
	t.Helper()
	tg.Stop()
	var err error
	deadline := time.Now().Add(startTimeout)
	for {
		if err = tg.start(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the old socket may linger
	}
	if err != nil {
		t.Fatalf("ldaptarget: restart: %v", err)
	}
}

// Log is what slapd wrote so far, for a failing test to show.
func (tg *Target) Log() string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.log == nil {
		return ""
	}
	return string(tg.log.Bytes())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// install is where this machine keeps slapd, its modules and schemas.
type install struct {
	slapd     string
	moduleDir string   // empty when the modules are built in
	modules   []string // the loadable ones of back_mdb ppolicy memberof refint
	schemaDir string
	ppSchema  bool // ppolicy.schema exists (OpenLDAP 2.4); 2.5 builds it in
}

func findInstall() (install, error) {
	var in install
	if p, err := exec.LookPath("slapd"); err == nil {
		in.slapd = p
	} else {
		for _, p := range []string{"/usr/sbin/slapd", "/usr/local/sbin/slapd", "/usr/libexec/slapd", "/usr/local/libexec/slapd", "/opt/homebrew/opt/openldap/libexec/slapd"} {
			if _, err := os.Stat(p); err == nil {
				in.slapd = p
				break
			}
		}
	}
	if in.slapd == "" {
		return in, errors.New("slapd not found in PATH nor in /usr/sbin")
	}
	for _, d := range []string{"/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap", "/usr/local/lib/openldap", "/usr/local/libexec/openldap", "/opt/homebrew/opt/openldap/libexec/openldap"} {
		if hasModule(d, "back_mdb") || hasModule(d, "ppolicy") {
			in.moduleDir = d
			break
		}
	}
	for _, m := range []string{"back_mdb", "ppolicy", "memberof", "refint"} {
		if in.moduleDir != "" && hasModule(in.moduleDir, m) {
			in.modules = append(in.modules, m)
		}
	}
	for _, d := range []string{"/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema", "/opt/homebrew/etc/openldap/schema"} {
		if _, err := os.Stat(filepath.Join(d, "inetorgperson.schema")); err == nil {
			in.schemaDir = d
			break
		}
	}
	if in.schemaDir == "" {
		return in, errors.New("OpenLDAP schema files (inetorgperson.schema) not found")
	}
	_, err := os.Stat(filepath.Join(in.schemaDir, "ppolicy.schema"))
	in.ppSchema = err == nil
	return in, nil
}

func hasModule(dir, name string) bool {
	for _, ext := range []string{".so", ".la"} {
		if _, err := os.Stat(filepath.Join(dir, name+ext)); err == nil {
			return true
		}
	}
	return false
}

// slapdConf is the server's whole configuration.
func slapdConf(in install, dir, adminPassword string, tls *tlsFiles) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	for _, s := range []string{"core", "cosine", "inetorgperson"} {
		line("include %s", filepath.Join(in.schemaDir, s+".schema"))
	}
	if in.ppSchema {
		line("include %s", filepath.Join(in.schemaDir, "ppolicy.schema"))
	}
	if in.moduleDir != "" {
		line("modulepath %s", in.moduleDir)
		for _, m := range in.modules {
			line("moduleload %s", m)
		}
	}
	line("pidfile %s", filepath.Join(dir, "slapd.pid"))
	line("argsfile %s", filepath.Join(dir, "slapd.args"))
	if tls != nil {
		line("TLSCACertificateFile %s", tls.ca)
		line("TLSCertificateFile %s", tls.cert)
		line("TLSCertificateKeyFile %s", tls.key)
	}
	line("database mdb")
	line("maxsize 67108864")
	line("suffix %q", Suffix)
	line("rootdn %q", AdminDN)
	line("rootpw %s", adminPassword)
	line("directory %s", filepath.Join(dir, "db"))
	for _, idx := range []string{"objectClass", "uid", "member", "cn"} {
		line("index %s eq", idx)
	}
	// Any bound user may read (the helpers bind as users to test locks).
	line(`access to attrs=userPassword by self =xw by anonymous auth by * none`)
	line(`access to * by users read by * none`)
	line("overlay memberof")
	line("overlay refint")
	line("refint_attributes member")
	line("overlay ppolicy")
	line("ppolicy_default %q", PolicyDN)
	line("ppolicy_use_lockout")
	return b.String()
}

// seed adds the tree: the suffix, people, groups, disabled, and the policy.
func (tg *Target) seed() error {
	entries := []struct {
		dn    string
		attrs map[string][]string
	}{
		{Suffix, map[string][]string{"objectClass": {"dcObject", "organization"}, "o": {"Example"}, "dc": {"example"}}},
		{PeopleDN, ou("people")},
		{GroupsDN, ou("groups")},
		{DisabledDN, ou("disabled")},
		{"ou=policies," + Suffix, ou("policies")},
		{PolicyDN, map[string][]string{
			"objectClass": {"device", "pwdPolicy"}, "cn": {"default"},
			"pwdAttribute": {"userPassword"}, "pwdLockout": {"TRUE"},
		}},
	}
	for _, e := range entries {
		if err := tg.add(e.dn, e.attrs); err != nil {
			return err
		}
	}
	return nil
}

func ou(name string) map[string][]string {
	return map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {name}}
}

// syncBuffer collects a process's output while the test may read it.
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

// tail keeps the end of a command's output, where the error usually is.
func tail(b []byte) string {
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}
