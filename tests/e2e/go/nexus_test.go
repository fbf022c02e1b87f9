package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
)

// The temporal CLI's `operator nexus endpoint` commands: create, list, get,
// update, delete, with the CLI's own errors for a duplicate name and an
// unknown endpoint, and endpoints that survive a server restart.
func TestNexusEndpointCLI(t *testing.T) {
	srv := startServer(t, serverOptions{Namespaces: []string{"nexus-handler"}})
	cli := temporalCLI(t)
	run := func(args ...string) (string, error) {
		args = append(args, "--address", srv.Addr())
		out, err := exec.Command(cli, args...).CombinedOutput()
		return string(out), err
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("temporal %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	getJSON := func(name string) map[string]any {
		t.Helper()
		var ep map[string]any
		out := mustRun("operator", "nexus", "endpoint", "get", "--name", name, "-o", "json")
		if err := json.Unmarshal([]byte(out), &ep); err != nil {
			t.Fatalf("get %s: %v\n%s", name, err, out)
		}
		return ep
	}

	out := mustRun("operator", "nexus", "endpoint", "create", "--name", "my-endpoint",
		"--target-namespace", "nexus-handler", "--target-task-queue", "nexus-tq", "--description", "Calls **billing**")
	if !strings.Contains(out, "Endpoint my-endpoint successfully created.") {
		t.Fatalf("create: %s", out)
	}
	ep := getJSON("my-endpoint")
	id, _ := ep["id"].(string)
	target := ep["spec"].(map[string]any)["target"].(map[string]any)["worker"].(map[string]any)
	if ep["version"] != "1" || target["namespace"] != "nexus-handler" || target["taskQueue"] != "nexus-tq" ||
		ep["urlPrefix"] != "/nexus/endpoints/"+id+"/services" || ep["createdTime"] == nil {
		t.Fatalf("endpoint after create: %v", ep)
	}

	out, err := run("operator", "nexus", "endpoint", "create", "--name", "my-endpoint",
		"--target-namespace", "nexus-handler", "--target-task-queue", "nexus-tq")
	if err == nil || !strings.Contains(out, "Endpoint with name my-endpoint already registered") {
		t.Fatalf("duplicate create: %v\n%s", err, out)
	}
	out, err = run("operator", "nexus", "endpoint", "create", "--name", "bad_name",
		"--target-namespace", "nexus-handler", "--target-task-queue", "nexus-tq")
	if err == nil || !strings.Contains(out, "endpoint name must match the regex") {
		t.Fatalf("bad name: %v\n%s", err, out)
	}
	out, err = run("operator", "nexus", "endpoint", "create", "--name", "other",
		"--target-namespace", "no-such-namespace", "--target-task-queue", "nexus-tq")
	if err == nil || !strings.Contains(out, "could not verify namespace referenced by target exists: Namespace no-such-namespace is not found.") {
		t.Fatalf("unknown namespace: %v\n%s", err, out)
	}

	mustRun("operator", "nexus", "endpoint", "create", "--name", "second-endpoint",
		"--target-namespace", "nexus-handler", "--target-task-queue", "other-tq")
	out = mustRun("operator", "nexus", "endpoint", "update", "--name", "my-endpoint", "--target-task-queue", "new-tq")
	if !strings.Contains(out, "Endpoint my-endpoint successfully updated.") {
		t.Fatalf("update: %s", out)
	}
	ep = getJSON("my-endpoint")
	target = ep["spec"].(map[string]any)["target"].(map[string]any)["worker"].(map[string]any)
	if ep["version"] != "2" || target["taskQueue"] != "new-tq" || ep["lastModifiedTime"] == nil {
		t.Fatalf("endpoint after update: %v", ep)
	}

	// Endpoints are durable.
	if err := srv.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	srv.Restart(t)
	var listed []map[string]any
	out = mustRun("operator", "nexus", "endpoint", "list", "-o", "json")
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("list after restart: %v\n%s", err, out)
	}
	if getJSON("my-endpoint")["version"] != "2" {
		t.Fatalf("version lost across restart")
	}

	// A stale version is refused (the RPC; the CLI always sends the current one).
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 30*time.Second)
	_, err = c.OperatorService().DeleteNexusEndpoint(ctx, &operatorservice.DeleteNexusEndpointRequest{Id: "nope", Version: 1})
	requireErrorAs[*serviceerror.InvalidArgument](t, err, "delete with a malformed id")
	get, err := c.OperatorService().GetNexusEndpoint(ctx, &operatorservice.GetNexusEndpointRequest{Id: id})
	requireNoError(t, err, "get by id")
	get.Endpoint.Spec.Description = nil
	_, err = c.OperatorService().UpdateNexusEndpoint(ctx, &operatorservice.UpdateNexusEndpointRequest{
		Id: id, Version: 1, Spec: get.Endpoint.Spec})
	requireErrorAs[*serviceerror.FailedPrecondition](t, err, "update with a stale version")

	out = mustRun("operator", "nexus", "endpoint", "delete", "--name", "my-endpoint")
	if !strings.Contains(out, "Endpoint my-endpoint successfully deleted") {
		t.Fatalf("delete: %s", out)
	}
	out, err = run("operator", "nexus", "endpoint", "get", "--name", "my-endpoint")
	if err == nil || !strings.Contains(out, `endpoint not found: "my-endpoint"`) {
		t.Fatalf("get after delete: %v\n%s", err, out)
	}
}

// GetSystemInfo reports Nexus as Temporal's dev server does; namespaces
// offer standalone Nexus operations (Temporal's only with
// nexusoperation.enableStandalone and CHASM, which Kairos has always).
func TestNexusCapabilities(t *testing.T) {
	srv := startServer(t, serverOptions{DynamicConfig: standaloneNexusConfig})
	c := newClient(t, srv.Addr(), "default")
	info, err := c.WorkflowService().GetSystemInfo(testCtx(t, 5*time.Second), &workflowservice.GetSystemInfoRequest{})
	requireNoError(t, err, "GetSystemInfo")
	if !info.GetCapabilities().GetNexus() {
		t.Fatalf("capabilities: %v", info.GetCapabilities())
	}
	ns := describeNamespace(t, newNamespaceClient(t, srv.Addr()), "default")
	if !ns.GetNamespaceInfo().GetCapabilities().GetStandaloneNexusOperation() {
		t.Fatalf("namespace capabilities: %v", ns.GetNamespaceInfo().GetCapabilities())
	}
}
