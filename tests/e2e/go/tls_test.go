package e2e

// TLS on the gRPC port with certificates made here by the openssl CLI: the
// Go SDK connects with its usual TLS options; with a client CA only clients
// holding a certificate it signed get in; renewed files are picked up.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// pki makes certificates with the openssl CLI in a temp dir.
type pki struct {
	t   *testing.T
	dir string
}

func newPKI(t *testing.T) *pki { return &pki{t: t, dir: t.TempDir()} }

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

func (p *pki) openssl(args ...string) {
	p.t.Helper()
	if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		p.t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
}

// ca makes a self-signed CA `name`.pem / `name`.key.
func (p *pki) ca(name string) {
	p.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", p.path(name+".key"), "-out", p.path(name+".pem"), "-days", "1", "-subj", "/CN="+name)
}

// leaf makes `name`.pem / `name`.key signed by CA `ca`, valid for 127.0.0.1.
func (p *pki) leaf(name, ca string) {
	p.openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", p.path(name+".key"), "-out", p.path(name+".csr"), "-subj", "/CN="+name)
	ext := p.path(name + ".ext")
	if err := os.WriteFile(ext, []byte("subjectAltName=IP:127.0.0.1,DNS:localhost\n"), 0o600); err != nil {
		p.t.Fatal(err)
	}
	p.openssl("x509", "-req", "-in", p.path(name+".csr"), "-CA", p.path(ca+".pem"), "-CAkey", p.path(ca+".key"),
		"-CAcreateserial", "-out", p.path(name+".pem"), "-days", "1", "-extfile", ext)
}

// clientTLS trusts CA `ca` and presents certificate `cert` (if not empty).
func (p *pki) clientTLS(ca, cert string) *tls.Config {
	p.t.Helper()
	pem, err := os.ReadFile(p.path(ca + ".pem"))
	if err != nil {
		p.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(p.path(cert+".pem"), p.path(cert+".key"))
		if err != nil {
			p.t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

// dialTLS dials (the SDK calls GetSystemInfo while dialing) with `cfg`.
func dialTLS(addr string, cfg *tls.Config) (client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return client.DialContext(ctx, client.Options{
		HostPort: addr, Logger: discardLogger{},
		ConnectionOptions: client.ConnectionOptions{TLS: cfg, GetSystemInfoTimeout: 3 * time.Second},
	})
}

// startTLSServer serves p's server.pem/server.key (plus `extra` flags) and
// returns a client connected with `cfg`, closed at cleanup, and the HTTP API's
// base URL (https).
func startTLSServer(t *testing.T, p *pki, cfg *tls.Config, extra ...string) (*server, client.Client, string) {
	t.Helper()
	httpPort := strconv.Itoa(freePort(t))
	args := append([]string{"--tls-cert", p.path("server.pem"), "--tls-key", p.path("server.key"),
		"--http-port", httpPort}, extra...)
	srv := startServer(t, serverOptions{InMemory: true, ExtraArgs: args, ProbeTLS: cfg})
	c, err := dialTLS(srv.Addr(), cfg)
	if err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	t.Cleanup(c.Close)
	return srv, c, "https://127.0.0.1:" + httpPort
}

// httpsGet fetches `url` with `cfg` (nil: plain HTTP on the same port).
func httpsGet(url string, cfg *tls.Config) (int, error) {
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	if cfg == nil {
		url = "http" + strings.TrimPrefix(url, "https")
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// checkHTTPS: the HTTP API answers `good` over TLS and refuses each of `bad`.
func checkHTTPS(t *testing.T, base string, good *tls.Config, bad ...*tls.Config) {
	t.Helper()
	url := base + "/api/v1/namespaces/default"
	if code, err := httpsGet(url, good); err != nil || code != 200 {
		t.Fatalf("HTTP API over TLS: %d, %v", code, err)
	}
	for i, cfg := range bad {
		if code, err := httpsGet(url, cfg); err == nil && code == 200 {
			t.Fatalf("HTTP API served refused client %d", i)
		}
	}
}

// mustRefuse fails the test if a client with `cfg` gets served.
func mustRefuse(t *testing.T, addr string, cfg *tls.Config, what string) {
	t.Helper()
	if c, err := dialTLS(addr, cfg); err == nil {
		c.Close()
		t.Fatal(what)
	}
}

// runGreeting runs one workflow end to end through `c`.
func runGreeting(t *testing.T, c client.Client) {
	t.Helper()
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) {
		r.RegisterWorkflow(Greet)
		r.RegisterActivity(&greetingActivities{})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: tq}, Greet, "tls")
	if err != nil {
		t.Fatalf("start over TLS: %v", err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil || out == "" {
		t.Fatalf("result over TLS: %q, %v", out, err)
	}
}

func TestTLSServerCertificate(t *testing.T) {
	p := newPKI(t)
	p.ca("ca")
	p.leaf("server", "ca")
	srv, c, base := startTLSServer(t, p, p.clientTLS("ca", ""))
	runGreeting(t, c)
	checkHTTPS(t, base, p.clientTLS("ca", ""), nil)

	mustRefuse(t, srv.Addr(), nil, "a plaintext client was served by a TLS port")
	p.ca("other")
	mustRefuse(t, srv.Addr(), p.clientTLS("other", ""), "a client that does not trust the server's CA connected")
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	p.ca("ca")
	p.leaf("server", "ca")
	p.ca("clients")
	p.leaf("worker", "clients")
	p.ca("rogue")
	p.leaf("intruder", "rogue")
	srv, c, base := startTLSServer(t, p, p.clientTLS("ca", "worker"), "--tls-client-ca", p.path("clients.pem"))
	runGreeting(t, c)
	checkHTTPS(t, base, p.clientTLS("ca", "worker"), nil, p.clientTLS("ca", ""), p.clientTLS("ca", "intruder"))

	mustRefuse(t, srv.Addr(), p.clientTLS("ca", ""), "a client without a certificate was served")
	mustRefuse(t, srv.Addr(), p.clientTLS("ca", "intruder"), "a client with a certificate of another CA was served")
}

func TestTLSReloadsRenewedCertificate(t *testing.T) {
	p := newPKI(t)
	p.ca("old")
	p.leaf("server", "old")
	srv, _, base := startTLSServer(t, p, p.clientTLS("old", ""), "--tls-reload-seconds", "1")
	// Renew: a certificate of another CA replaces the files in place.
	p.ca("new")
	p.leaf("renewed", "new")
	for _, ext := range []string{".pem", ".key"} {
		data, err := os.ReadFile(p.path("renewed" + ext))
		if err != nil {
			t.Fatal(err)
		}
		tmp := p.path("server" + ext + ".tmp")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p.path("server"+ext)); err != nil {
			t.Fatal(err)
		}
	}
	// The server checks the files every second: wait for a client that
	// trusts only the new CA to get in.
	deadline := time.Now().Add(15 * time.Second)
	for attempt := 1; ; attempt++ {
		c, err := dialTLS(srv.Addr(), p.clientTLS("new", ""))
		if err == nil {
			c.Close()
			t.Logf("renewed certificate served after %d attempts", attempt)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("renewed certificate not served within 15 s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	mustRefuse(t, srv.Addr(), p.clientTLS("old", ""), "the replaced certificate is still served")

	// The HTTP API's HTTPS listener renews too (the Web UI's is the same code).
	url := base + "/api/v1/namespaces/default"
	for {
		code, err := httpsGet(url, p.clientTLS("new", ""))
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("renewed certificate not served on the HTTP API within 15 s: %d %v", code, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := httpsGet(url, p.clientTLS("old", "")); err == nil {
		t.Fatal("the HTTP API still serves the replaced certificate")
	}
}
