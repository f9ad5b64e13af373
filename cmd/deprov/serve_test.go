package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/api"
)

// adminToken is the first admin token of the servers these tests start.
const adminToken = "cli-test-admin-token-0123456789"

// startServe runs `deprov serve` on a free loopback port with a database in
// dir and returns it and the address it listens on.
func startServe(t *testing.T, dir string, flags ...string) (*background, string) {
	t.Helper()
	t.Setenv(api.BootstrapTokenEnv, adminToken)
	args := append([]string{"--db", filepath.Join(dir, "deprov.db"), "serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, flags...)
	srv := startBackground(t, args...)
	var addr string
	srv.until(t, 30*time.Second, `"deprov serving" log line`, func() bool {
		sc := bufio.NewScanner(strings.NewReader(srv.stderr.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "deprov serving" {
				addr = line.Addr
			}
		}
		return addr != ""
	})
	return srv, addr
}

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and its
// key to dir, and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "deprov test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = write(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = write(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})))
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeCookies: the console's session cookie is Secure when serve
// speaks TLS or is told a proxy in front does, and only then; with TLS,
// serve answers HTTPS and not plain HTTP.
func TestServeCookies(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	tests := []struct {
		name       string
		flags      []string
		tls        bool
		wantSecure bool
	}{
		{"plain HTTP", nil, false, false},
		{"behind a TLS proxy", []string{"--secure-cookies"}, false, true},
		{"TLS", []string{"--tls-cert", certFile, "--tls-key", keyFile}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startServe(t, t.TempDir(), tc.flags...)
			client := &http.Client{
				Timeout:       10 * time.Second,
				Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			base := "http://" + addr
			if tc.tls {
				base = "https://" + addr
			}

			resp, err := client.Get(base + "/healthz")
			if err != nil {
				t.Fatalf("GET /healthz: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || (resp.TLS != nil) != tc.tls {
				t.Fatalf("GET %s/healthz: %s, over TLS %v; want 200, over TLS %v", base, resp.Status, resp.TLS != nil, tc.tls)
			}
			if tc.tls {
				// Plain HTTP on the HTTPS port is refused, not served.
				resp, err := client.Get("http://" + addr + "/healthz")
				if err == nil {
					resp.Body.Close()
				}
				if err == nil && resp.StatusCode == http.StatusOK {
					t.Errorf("plain HTTP GET /healthz on the TLS port: %s", resp.Status)
				}
			}

			resp, err = client.PostForm(base+"/login", url.Values{"token": {adminToken}, "next": {"/rules"}})
			if err != nil {
				t.Fatalf("POST /login: %v", err)
			}
			resp.Body.Close()
			var session *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == "deprov_session" {
					session = c
				}
			}
			if resp.StatusCode != http.StatusSeeOther || session == nil {
				t.Fatalf("POST /login: %s, Set-Cookie %q; want 303 and a deprov_session cookie", resp.Status, resp.Header.Values("Set-Cookie"))
			}
			if session.Secure != tc.wantSecure || !session.HttpOnly {
				t.Errorf("session cookie %q: Secure %v, HttpOnly %v; want Secure %v, HttpOnly", resp.Header.Values("Set-Cookie"), session.Secure, session.HttpOnly, tc.wantSecure)
			}
			if code := srv.stop(t); code != 0 {
				t.Errorf("serve exited with code %d after Ctrl-C\n%s", code, srv.stderr.String())
			}
		})
	}
}

// TestServeTLSFlags: --tls-cert and --tls-key go together and must hold a
// certificate and its key; otherwise serve exits 2 naming the flag, before
// it creates a database.
func TestServeTLSFlags(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	otherDir := t.TempDir()
	_, otherKey, _ := selfSigned(t, otherDir)
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{"cert without key", []string{"--tls-cert", certFile}, []string{"--tls-cert needs --tls-key"}},
		{"key without cert", []string{"--tls-key", keyFile}, []string{"--tls-key needs --tls-cert"}},
		{"missing file", []string{"--tls-cert", filepath.Join(dir, "nope.pem"), "--tls-key", keyFile}, []string{"--tls-cert", "nope.pem", "no such file"}},
		{"key of another certificate", []string{"--tls-cert", certFile, "--tls-key", otherKey}, []string{"--tls-cert", "does not match"}},
		{"key as certificate", []string{"--tls-cert", keyFile, "--tls-key", keyFile}, []string{"--tls-cert"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := t.TempDir()
			code, out, errs := cli(t, db, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.flags...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if strings.Contains(errs, "deprov serving") {
				t.Errorf("serve started:\n%s", errs)
			}
			if _, err := os.Stat(filepath.Join(db, "deprov.db")); err == nil {
				t.Errorf("serve created a database before refusing its flags")
			}
		})
	}
}
