package faulttest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// proxy is a loopback TCP proxy in front of the SCIM target. Switched off,
// it is a stopped server as a client sees one: new connections are
// refused and open ones are reset. Switched on again, it listens on the same
// address, and the target behind it has kept its state.
type proxy struct {
	t       testing.TB
	addr    string // host:port the proxy listens on
	backend string // host:port of the target

	mu    sync.Mutex
	ln    net.Listener // nil while off
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// startProxy starts a proxy to the server at rawURL and returns it with
// rawURL rewritten to pass through it. It is closed when the test ends.
func startProxy(t testing.TB, rawURL string) (*proxy, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, addr: ln.Addr().String(), backend: u.Host, conns: map[net.Conn]bool{}}
	p.serve(ln)
	t.Cleanup(func() {
		p.off()
		p.wg.Wait()
	})
	u.Host = p.addr
	return p, u.String()
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by off
			}
			p.wg.Go(func() { p.pipe(c) })
		}
	})
}

// pipe copies bytes both ways between a client and a new connection to the
// backend until either side closes.
func (p *proxy) pipe(client net.Conn) {
	if !p.track(client) {
		client.Close()
		return
	}
	defer p.untrack(client)
	backend, err := net.DialTimeout("tcp", p.backend, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(backend) {
		backend.Close()
		return
	}
	defer p.untrack(backend)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(backend, client)
	go cp(client, backend)
	<-done
	<-done
}

// track registers a connection; false when the proxy went off meanwhile.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// off stops listening (connections are refused) and resets every open
// connection.
func (p *proxy) off() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return
	}
	p.ln.Close()
	p.ln = nil
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with a reset, not a graceful FIN
		}
		c.Close()
	}
	clear(p.conns)
}

// on listens again on the same address. The port is free unless another
// program took it meanwhile; a few tries cover a socket still closing.
func (p *proxy) on() {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", p.addr)
		if err == nil {
			p.serve(ln)
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
