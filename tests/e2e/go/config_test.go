package e2e

// Safe defaults: plaintext on a non-loopback address is refused unless
// --allow-insecure says so (and then the banner warns). Configuration from a
// file and KAIROS_* variables.

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
)

func TestPlaintextOnNetworkAddressNeedsAllowInsecure(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	out, err := exec.Command(kairosBinary(t), "server", "start-dev", "--ip", "0.0.0.0", "--port", port, "--headless").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing to serve plaintext on 0.0.0.0") {
		t.Fatalf("plaintext on 0.0.0.0 was not refused: %v\n%s", err, out)
	}
	// Authorization without TLS is not enough: the tokens would travel in clear.
	keys := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keys, []byte(testAPIKeys), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(kairosBinary(t), "server", "start-dev", "--ip", "0.0.0.0", "--port", port, "--headless",
		"--auth-api-keys", keys).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing to serve plaintext on 0.0.0.0") {
		t.Fatalf("plaintext with authorization on 0.0.0.0 was not refused: %v\n%s", err, out)
	}

	cmd := exec.Command(kairosBinary(t), "server", "start-dev", "--ip", "0.0.0.0", "--port", port, "--headless",
		"--allow-insecure")
	waitForBanner(t, cmd, "WARNING: plaintext on a non-loopback address")
	if err := probe("127.0.0.1:"+port, nil); err != nil {
		t.Fatalf("--allow-insecure server not serving: %v", err)
	}
}

// waitForBanner starts `cmd` and waits until its output has a line with
// `want` (killed at cleanup).
func waitForBanner(t *testing.T, cmd *exec.Cmd, want string) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), want) {
				found <- true
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		if !ok {
			t.Fatalf("no %q in the banner", want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no %q within 10 s", want)
	}
}

func TestConfigFileAndEnvironment(t *testing.T) {
	port, fromEnv := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "kairos.toml")
	body := "[server.start-dev]\nheadless = true\nnamespace = [\"cfg-a\", \"cfg-b\"]\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// Flags from the file and from a KAIROS_* variable both apply.
	cmd := exec.Command(kairosBinary(t), "--config", cfg, "server", "start-dev", "--port", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "KAIROS_METRICS_PORT="+strconv.Itoa(fromEnv))
	waitForBanner(t, cmd, "Ready in")
	if got := httpStatus(t, "http://127.0.0.1:"+strconv.Itoa(fromEnv)+"/readyz"); got != 200 {
		t.Fatalf("/readyz on KAIROS_METRICS_PORT: %d", got)
	}
	c := newClient(t, "127.0.0.1:"+strconv.Itoa(port), "cfg-b")
	if _, err := c.WorkflowService().DescribeNamespace(context.Background(),
		&workflowservice.DescribeNamespaceRequest{Namespace: "cfg-b"}); err != nil {
		t.Fatalf("namespace from the config file: %v", err)
	}
}
