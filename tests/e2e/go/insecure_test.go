package e2e

// Safe defaults: plaintext on a non-loopback address is refused unless
// --allow-insecure says so (and then the banner warns).

import (
	"bufio"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPlaintextOnNetworkAddressNeedsAllowInsecure(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	out, err := exec.Command(kairosBinary(t), "server", "start-dev", "--ip", "0.0.0.0", "--port", port, "--headless").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing to serve plaintext on 0.0.0.0") {
		t.Fatalf("plaintext on 0.0.0.0 was not refused: %v\n%s", err, out)
	}

	cmd := exec.Command(kairosBinary(t), "server", "start-dev", "--ip", "0.0.0.0", "--port", port, "--headless",
		"--allow-insecure")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	warned := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "WARNING: plaintext on a non-loopback address") {
				warned <- true
				return
			}
		}
		warned <- false
	}()
	select {
	case ok := <-warned:
		if !ok {
			t.Fatal("--allow-insecure: no warning in the banner")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("--allow-insecure: server did not start")
	}
	if err := probe("127.0.0.1:"+port, nil); err != nil {
		t.Fatalf("--allow-insecure server not serving: %v", err)
	}
}
