package e2e

// Test harness: starting/stopping/crashing the Kairos server binary, clients
// and in-process workers. History helpers live in harness_history_test.go and
// the out-of-process worker support in harness_process_test.go.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"google.golang.org/grpc/status"
)

const (
	// readyTimeout bounds how long a (re)started server may take to answer
	// GetSystemInfo and the gRPC health check.
	readyTimeout = 20 * time.Second
	// stopTimeout bounds a graceful stop before the harness escalates to SIGKILL.
	stopTimeout = 15 * time.Second
	// logTailLines is how much of a process log is dumped on test failure.
	logTailLines = 50
)

func TestMain(m *testing.M) {
	// When re-executed as an out-of-process worker, never run the tests.
	if kind := os.Getenv(envWorkerKind); kind != "" {
		os.Exit(runWorkerProcess(kind))
	}
	os.Exit(m.Run())
}

// kairosBinary returns the absolute path of the server under test:
// $KAIROS_BIN, or <repo>/build/server/kairos relative to this package dir.
func kairosBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("KAIROS_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "..", "build", "server", "kairos")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatalf("resolving kairos binary path %q: %v", bin, err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("kairos binary not found at %s (build the server or set KAIROS_BIN): %v", abs, err)
	}
	return abs
}

// serverOptions configures startServer.
type serverOptions struct {
	// InMemory runs the server without --db-filename.
	InMemory bool
	// Namespaces are passed as repeated --namespace flags.
	Namespaces []string
	// LogLevel defaults to "warn".
	LogLevel string
	// KairosArgs are extra flags only Kairos knows (e.g. its testing flags);
	// they are left out when the binary under test is Temporal's.
	KairosArgs []string
	// DynamicConfig values KEY=VALUE, passed to either server as
	// --dynamic-config-value.
	DynamicConfig []string
	// ExtraArgs are appended to the command line (e.g. --metrics-port, TLS flags).
	ExtraArgs []string
	// DBFile is the database to run on (default: a fresh file in a temp dir).
	DBFile string
	// ProbeTLS is the client TLS configuration of the readiness probe (nil: plain).
	ProbeTLS *tls.Config
}

// againstTemporal reports whether the binary under test is Temporal's own
// dev server (KAIROS_BIN pointing at the temporal CLI).
func againstTemporal(t testing.TB) bool {
	return filepath.Base(kairosBinary(t)) == "temporal"
}

// server is one Kairos server under test. It survives Kill9/Restart cycles:
// the port and db file stay the same.
type server struct {
	t       testing.TB
	bin     string
	opts    serverOptions
	port    int
	addr    string
	dbFile  string // empty in memory mode
	logPath string

	mu      sync.Mutex
	proc    *exec.Cmd
	exited  chan struct{} // closed when proc has been waited for
	waitErr error
	starts  int
}

// startServer launches a fresh server on a free loopback port and waits for
// it to become ready. It is stopped gracefully (and its exit code checked) at
// test cleanup.
func startServer(t testing.TB, opts serverOptions) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{
		t:       t,
		bin:     kairosBinary(t),
		opts:    opts,
		port:    freePort(t),
		logPath: filepath.Join(dir, "kairos.log"),
	}
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	if !opts.InMemory {
		s.dbFile = filepath.Join(dir, "kairos.db")
		if opts.DBFile != "" {
			s.dbFile = opts.DBFile
		}
	}
	// Registered first so that it runs last (after the graceful stop below),
	// which lets shutdown problems show up in the dumped log.
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogTail(t, "kairos server", s.logPath)
		}
	})
	s.launch(t)
	t.Cleanup(func() {
		if !s.running() {
			return
		}
		if err := s.Stop(); err != nil {
			t.Errorf("graceful server stop: %v", err)
		}
	})
	s.waitReady(t)
	return s
}

// Addr is the host:port of the frontend.
func (s *server) Addr() string { return s.addr }

func (s *server) args() []string {
	level := s.opts.LogLevel
	if level == "" {
		level = "warn"
	}
	args := []string{
		"server", "start-dev",
		"--ip", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--headless",
		"--log-level", level,
	}
	if s.dbFile != "" {
		args = append(args, "--db-filename", s.dbFile)
	}
	for _, ns := range s.opts.Namespaces {
		args = append(args, "--namespace", ns)
	}
	if filepath.Base(s.bin) != "temporal" {
		args = append(args, s.opts.KairosArgs...)
	}
	for _, kv := range s.opts.DynamicConfig {
		args = append(args, "--dynamic-config-value", kv)
	}
	return append(args, s.opts.ExtraArgs...)
}

func (s *server) launch(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !isClosed(s.exited) {
		t.Fatalf("kairos server already running (pid %d)", s.proc.Process.Pid)
	}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("opening server log: %v", err)
	}
	s.starts++
	args := s.args()
	fmt.Fprintf(logFile, "=== e2e harness: start #%d: %s %s\n", s.starts, s.bin, strings.Join(args, " "))
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting kairos server: %v", err)
	}
	exited := make(chan struct{})
	s.proc, s.exited, s.waitErr = cmd, exited, nil
	go func() {
		err := cmd.Wait()
		logFile.Close()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(exited)
	}()
}

// waitReady polls Dial + CheckHealth until it succeeds, the process dies or
// readyTimeout passes.
func (s *server) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	backoff := 20 * time.Millisecond
	var lastErr error
	for time.Now().Before(deadline) {
		if exited, err := s.exitStatus(); exited {
			t.Fatalf("kairos server exited before becoming ready (%v); log tail:\n%s", err, logTail(s.logPath, logTailLines))
		}
		if lastErr = probe(s.addr, s.opts.ProbeTLS); lastErr == nil {
			return
		}
		time.Sleep(backoff)
		if backoff < 250*time.Millisecond {
			backoff *= 2
		}
	}
	t.Fatalf("kairos server at %s not ready within %v: last error: %v\nlog tail:\n%s",
		s.addr, readyTimeout, lastErr, logTail(s.logPath, logTailLines))
}

// probe makes one bounded attempt to dial the server and health check it.
func probe(addr string, tlsConfig *tls.Config) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:          addr,
		Logger:            discardLogger{},
		ConnectionOptions: client.ConnectionOptions{GetSystemInfoTimeout: 2 * time.Second, TLS: tlsConfig},
	})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return err
	}
	return nil
}

func (s *server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !isClosed(s.exited)
}

func (s *server) exitStatus() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || !isClosed(s.exited) {
		return false, nil
	}
	return true, s.waitErr
}

func (s *server) current() (*exec.Cmd, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc, s.exited
}

// Kill9 crashes the server with SIGKILL and waits for the process to be gone.
func (s *server) Kill9() {
	s.t.Helper()
	proc, exited := s.current()
	if proc == nil || isClosed(exited) {
		s.t.Fatalf("Kill9: kairos server is not running")
	}
	_ = proc.Process.Signal(syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		s.t.Fatalf("Kill9: kairos server (pid %d) still alive 10s after SIGKILL", proc.Process.Pid)
	}
}

// Stop stops the server gracefully with SIGTERM. It returns an error if the
// server did not exit in time (it is then SIGKILLed) or exited non-zero.
func (s *server) Stop() error {
	proc, exited := s.current()
	if proc == nil || isClosed(exited) {
		return errors.New("kairos server is not running")
	}
	_ = proc.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		_ = proc.Process.Signal(syscall.SIGKILL)
		<-exited
		return fmt.Errorf("kairos server did not exit within %v of SIGTERM (killed)", stopTimeout)
	}
	_, err := s.exitStatus()
	if err != nil {
		return fmt.Errorf("kairos server exited uncleanly after SIGTERM: %w", err)
	}
	return nil
}

// Restart starts the server again on the same port with the same db file and
// waits until it is ready. The previous process must have stopped.
func (s *server) Restart(t testing.TB) {
	t.Helper()
	if s.running() {
		t.Fatalf("Restart: kairos server is still running; Stop or Kill9 it first")
	}
	s.launch(t)
	s.waitReady(t)
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func dumpLogTail(t testing.TB, what, path string) {
	t.Logf("---- last %d lines of %s log (%s) ----\n%s\n---- end of %s log ----",
		logTailLines, what, path, logTail(path, logTailLines), what)
}

// ---------------------------------------------------------------------------
// Clients and workers

// newClient dials the server for the given namespace; closed at cleanup.
func newClient(t testing.TB, addr, namespace string) client.Client {
	t.Helper()
	return newClientWithIdentity(t, addr, namespace, "")
}

// newClientWithIdentity is newClient with an explicit client/worker identity
// (as recorded on WorkflowTaskStarted, ActivityTaskStarted, ...).
func newClientWithIdentity(t testing.TB, addr, namespace, identity string) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  addr,
		Namespace: namespace,
		Identity:  identity,
		Logger:    newTestLogger(t),
	})
	if err != nil {
		t.Fatalf("dialing %s (namespace %q): %v", addr, namespace, err)
	}
	t.Cleanup(c.Close)
	return c
}

// startWorker runs an in-process worker on taskQueue; register adds the
// workflows and activities. The worker is stopped at cleanup.
func startWorker(t testing.TB, c client.Client, taskQueue string, register func(worker.Registry)) worker.Worker {
	t.Helper()
	w := worker.New(c, taskQueue, worker.Options{})
	register(w)
	if err := w.Start(); err != nil {
		t.Fatalf("starting worker on %q: %v", taskQueue, err)
	}
	t.Cleanup(w.Stop)
	return w
}

// taskQueueFor derives a task queue name unique to the test.
func taskQueueFor(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	return fmt.Sprintf("tq-%s-%d", name, time.Now().UnixNano())
}

// testCtx returns a context bounded by d and canceled at cleanup.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// ---------------------------------------------------------------------------
// Logging

// testLogger forwards SDK logs at or above a minimum level to t.Logf, and
// drops everything once the test has finished (SDK goroutines may outlive it).
// KAIROS_E2E_SDK_LOG=debug|info|warn|error sets the level (default warn).
type testLogger struct {
	t      testing.TB
	min    int
	mu     *sync.Mutex
	closed *bool
	kv     []any
}

const (
	levelDebug = iota
	levelInfo
	levelWarn
	levelError
)

func newTestLogger(t testing.TB) log.Logger {
	min := levelWarn
	switch strings.ToLower(os.Getenv("KAIROS_E2E_SDK_LOG")) {
	case "debug":
		min = levelDebug
	case "info":
		min = levelInfo
	case "error":
		min = levelError
	}
	l := &testLogger{t: t, min: min, mu: &sync.Mutex{}, closed: new(bool)}
	t.Cleanup(func() {
		l.mu.Lock()
		*l.closed = true
		l.mu.Unlock()
	})
	return l
}

func (l *testLogger) log(level int, name, msg string, keyvals []any) {
	if level < l.min {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if *l.closed {
		return
	}
	all := append(append([]any{}, l.kv...), keyvals...)
	l.t.Logf("[sdk %s] %s %v", name, msg, all)
}

func (l *testLogger) Debug(msg string, kv ...any) { l.log(levelDebug, "DEBUG", msg, kv) }
func (l *testLogger) Info(msg string, kv ...any)  { l.log(levelInfo, "INFO", msg, kv) }
func (l *testLogger) Warn(msg string, kv ...any)  { l.log(levelWarn, "WARN", msg, kv) }
func (l *testLogger) Error(msg string, kv ...any) { l.log(levelError, "ERROR", msg, kv) }

func (l *testLogger) With(kv ...any) log.Logger {
	c := *l
	c.kv = append(append([]any{}, l.kv...), kv...)
	return &c
}

type discardLogger struct{}

func (discardLogger) Debug(string, ...any) {}
func (discardLogger) Info(string, ...any)  {}
func (discardLogger) Warn(string, ...any)  {}
func (discardLogger) Error(string, ...any) {}

// ---------------------------------------------------------------------------
// Errors

// describeErr renders an error with its Go type and gRPC code, which tells
// apart e.g. a NamespaceNotFound (typed details present) from a bare NotFound.
func describeErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	code := "n/a"
	var st interface{ Status() *status.Status }
	if errors.As(err, &st) && st.Status() != nil {
		code = st.Status().Code().String()
	} else if s, ok := status.FromError(err); ok {
		code = s.Code().String()
	}
	return fmt.Sprintf("%T (grpc code %s): %v", err, code, err)
}

// requireErrorAs asserts that err matches the error type T (errors.As) and
// returns the match.
func requireErrorAs[T error](t testing.TB, err error, what string) T {
	t.Helper()
	var target T
	if err == nil {
		t.Fatalf("%s: expected a %T error, got success", what, target)
	}
	if !errors.As(err, &target) {
		t.Fatalf("%s: expected a %T error, got %s", what, target, describeErr(err))
	}
	return target
}

// requireNoError fails the test with a descriptive error.
func requireNoError(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %s", what, describeErr(err))
	}
}

// expectErrorAs is requireErrorAs that records a failure and lets the test
// go on; it reports whether err matched.
func expectErrorAs[T error](t testing.TB, err error, what string) bool {
	t.Helper()
	var target T
	if err == nil {
		t.Errorf("%s: expected a %T error, got success", what, target)
		return false
	}
	if !errors.As(err, &target) {
		t.Errorf("%s: expected a %T error, got %s", what, target, describeErr(err))
		return false
	}
	return true
}
