package e2e

// A server started elsewhere (docker/rootfs-test.sh starts one inside the
// container's root filesystem): a workflow runs through it end to end.

import (
	"os"
	"testing"
)

func TestExternalServerRunsAWorkflow(t *testing.T) {
	addr := os.Getenv("KAIROS_EXTERNAL_ADDR")
	if addr == "" {
		t.Skip("KAIROS_EXTERNAL_ADDR is not set (docker/rootfs-test.sh sets it)")
	}
	runGreeting(t, newClient(t, addr, "default"))
}
