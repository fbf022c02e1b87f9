package e2e

// Out-of-process workers. The test binary re-executes itself with
// KAIROS_E2E_WORKER=<kind>; TestMain then runs a worker for that kind instead
// of the tests. That lets a test kill -9 a worker mid-workflow.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

const (
	envWorkerKind      = "KAIROS_E2E_WORKER"
	envWorkerAddr      = "KAIROS_E2E_ADDR"
	envWorkerNamespace = "KAIROS_E2E_NAMESPACE"
	envWorkerTaskQueue = "KAIROS_E2E_TASK_QUEUE"
	envWorkerIdentity  = "KAIROS_E2E_IDENTITY"
	envWorkerDir       = "KAIROS_E2E_WORKER_DIR"

	// readyMarker is created in the worker dir once the worker has started.
	readyMarker = "worker-ready"
)

// workerEnv is what a worker kind's registration gets to know about its
// environment. Dir is a directory shared with the test, used for markers.
type workerEnv struct {
	Dir string
}

// writeMarker creates (atomically) a marker file named name in dir.
func writeMarker(dir, name string) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(time.Now().Format(time.RFC3339Nano)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// runWorkerProcess is the body of a re-executed worker process. It returns
// the process exit code.
func runWorkerProcess(kind string) int {
	register, ok := workerKinds[kind]
	if !ok {
		fmt.Fprintf(os.Stderr, "e2e worker: unknown worker kind %q\n", kind)
		return 2
	}
	env := workerEnv{Dir: os.Getenv(envWorkerDir)}
	taskQueue := os.Getenv(envWorkerTaskQueue)

	var c client.Client
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err = client.DialContext(ctx, client.Options{
			HostPort:  os.Getenv(envWorkerAddr),
			Namespace: os.Getenv(envWorkerNamespace),
			Identity:  os.Getenv(envWorkerIdentity),
		})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "e2e worker: dial failed: %v\n", err)
			return 1
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer c.Close()

	w := worker.New(c, taskQueue, worker.Options{})
	register(w, env)
	if err := w.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e worker: start failed: %v\n", err)
		return 1
	}
	if err := writeMarker(env.Dir, readyMarker); err != nil {
		fmt.Fprintf(os.Stderr, "e2e worker: writing ready marker: %v\n", err)
		w.Stop()
		return 1
	}
	fmt.Printf("e2e worker %q polling task queue %q\n", kind, taskQueue)
	<-worker.InterruptCh()
	w.Stop()
	return 0
}

// workerProcess is a worker running in a child process.
type workerProcess struct {
	t       testing.TB
	kind    string
	dir     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// startWorkerProcess launches a worker of the given kind in a child process
// and waits until it has started polling. It is killed at cleanup.
func startWorkerProcess(t testing.TB, addr, namespace, taskQueue, kind, identity string) *workerProcess {
	t.Helper()
	if _, ok := workerKinds[kind]; !ok {
		t.Fatalf("unknown worker kind %q", kind)
	}
	base := t.TempDir()
	p := &workerProcess{
		t:       t,
		kind:    kind,
		dir:     filepath.Join(base, "markers"),
		logPath: filepath.Join(base, "worker.log"),
		exited:  make(chan struct{}),
	}
	if err := os.Mkdir(p.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(),
		envWorkerKind+"="+kind,
		envWorkerAddr+"="+addr,
		envWorkerNamespace+"="+namespace,
		envWorkerTaskQueue+"="+taskQueue,
		envWorkerIdentity+"="+identity,
		envWorkerDir+"="+p.dir,
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting worker process: %v", err)
	}
	p.cmd = cmd
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if !isClosed(p.exited) {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
		if t.Failed() {
			dumpLogTail(t, "worker process "+kind, p.logPath)
		}
	})
	p.WaitForMarker(t, readyMarker, 20*time.Second)
	return p
}

// WaitForMarker polls (short backoff, bounded) until the worker process has
// created the named marker file in its directory.
func (p *workerProcess) WaitForMarker(t testing.TB, name string, timeout time.Duration) {
	t.Helper()
	path := filepath.Join(p.dir, name)
	deadline := time.Now().Add(timeout)
	backoff := 10 * time.Millisecond
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if isClosed(p.exited) {
			t.Fatalf("worker process %q exited (%v) before creating marker %q; log tail:\n%s",
				p.kind, p.waitErr, name, logTail(p.logPath, logTailLines))
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker process %q did not create marker %q within %v; log tail:\n%s",
				p.kind, name, timeout, logTail(p.logPath, logTailLines))
		}
		time.Sleep(backoff)
		if backoff < 100*time.Millisecond {
			backoff *= 2
		}
	}
}

// Kill9 SIGKILLs the worker process and waits until it is gone.
func (p *workerProcess) Kill9() {
	p.t.Helper()
	if isClosed(p.exited) {
		p.t.Fatalf("worker process %q already exited: %v", p.kind, p.waitErr)
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.t.Fatalf("worker process %q still alive 10s after SIGKILL", p.kind)
	}
}
