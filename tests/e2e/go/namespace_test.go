package e2e

// Foundation tests: connectivity, system info and namespace management.

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// newNamespaceClient returns a namespace client closed at cleanup.
func newNamespaceClient(t testing.TB, addr string) client.NamespaceClient {
	t.Helper()
	nc, err := client.NewNamespaceClient(client.Options{HostPort: addr, Logger: newTestLogger(t)})
	requireNoError(t, err, "creating namespace client")
	t.Cleanup(nc.Close)
	return nc
}

// describeNamespace describes a namespace by name, failing the test on error.
func describeNamespace(t testing.TB, nc client.NamespaceClient, name string) *workflowservice.DescribeNamespaceResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := nc.Describe(ctx, name)
	requireNoError(t, err, "describing namespace "+name)
	return resp
}

// listAllNamespaces pages through ListNamespaces with the given page size and
// returns namespace names in listing order. It checks page sizes are honored.
func listAllNamespaces(t testing.TB, c client.Client, pageSize int32) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var names []string
	var token []byte
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("ListNamespaces: more than 1000 pages, next_page_token never becomes empty")
		}
		resp, err := c.WorkflowService().ListNamespaces(ctx, &workflowservice.ListNamespacesRequest{
			PageSize:      pageSize,
			NextPageToken: token,
		})
		requireNoError(t, err, "ListNamespaces")
		if got := len(resp.GetNamespaces()); got > int(pageSize) {
			t.Errorf("ListNamespaces page %d has %d namespaces, page size is %d", page, got, pageSize)
		}
		for _, ns := range resp.GetNamespaces() {
			names = append(names, ns.GetNamespaceInfo().GetName())
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return names
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestConnectivity(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{InMemory: true})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 10*time.Second)

	_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
	requireNoError(t, err, "CheckHealth")

	info, err := c.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	requireNoError(t, err, "GetSystemInfo")
	if info.GetServerVersion() == "" {
		t.Errorf("GetSystemInfo: empty server_version")
	}
	t.Logf("server_version=%q capabilities=%v", info.GetServerVersion(), info.GetCapabilities())

	// The default namespace exists from the start.
	nc := newNamespaceClient(t, srv.Addr())
	def := describeNamespace(t, nc, "default")
	if got := def.GetNamespaceInfo().GetState(); got != enumspb.NAMESPACE_STATE_REGISTERED {
		t.Errorf("default namespace state = %v, want REGISTERED", got)
	}
}

func TestNamespaceLifecycle(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{Namespaces: []string{"extra"}})
	c := newClient(t, srv.Addr(), "default")
	nc := newNamespaceClient(t, srv.Addr())
	ctx := testCtx(t, 60*time.Second)

	const (
		name        = "e2e-orders"
		description = "orders placed by the e2e suite"
		owner       = "e2e@kairos.dev"
	)
	retention := 72 * time.Hour

	// Register.
	err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        name,
		Description:                      description,
		OwnerEmail:                       owner,
		WorkflowExecutionRetentionPeriod: durationpb.New(retention),
	})
	requireNoError(t, err, "registering "+name)

	// Describe.
	desc := describeNamespace(t, nc, name)
	info := desc.GetNamespaceInfo()
	if info.GetName() != name {
		t.Errorf("name = %q, want %q", info.GetName(), name)
	}
	if info.GetDescription() != description {
		t.Errorf("description = %q, want %q", info.GetDescription(), description)
	}
	if info.GetOwnerEmail() != owner {
		t.Errorf("owner email = %q, want %q", info.GetOwnerEmail(), owner)
	}
	if info.GetState() != enumspb.NAMESPACE_STATE_REGISTERED {
		t.Errorf("state = %v, want REGISTERED", info.GetState())
	}
	if info.GetId() == "" {
		t.Errorf("namespace id is empty")
	}
	if got := desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != retention {
		t.Errorf("retention = %v, want %v", got, retention)
	}

	// Describe by id.
	byID, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Id: info.GetId()})
	requireNoError(t, err, "describing namespace by id")
	if byID.GetNamespaceInfo().GetName() != name {
		t.Errorf("describe by id %s returned namespace %q, want %q", info.GetId(), byID.GetNamespaceInfo().GetName(), name)
	}

	// The namespace given on the command line exists.
	if st := describeNamespace(t, nc, "extra").GetNamespaceInfo().GetState(); st != enumspb.NAMESPACE_STATE_REGISTERED {
		t.Errorf("--namespace extra: state = %v, want REGISTERED", st)
	}

	// List with page size 1 exercises paging.
	names := listAllNamespaces(t, c, 1)
	for _, want := range []string{"default", "extra", name} {
		if !contains(names, want) {
			t.Errorf("ListNamespaces (page size 1) = %v, missing %q", names, want)
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("ListNamespaces (page size 1) returned %q twice: %v", n, names)
		}
		seen[n] = true
	}
	if all := listAllNamespaces(t, c, 100); len(all) != len(names) {
		t.Errorf("ListNamespaces: page size 100 lists %v, page size 1 lists %v", all, names)
	}

	// Update description and retention.
	err = nc.Update(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace:  name,
		UpdateInfo: &namespacepb.UpdateNamespaceInfo{Description: "updated description"},
	})
	requireNoError(t, err, "updating description")
	desc = describeNamespace(t, nc, name)
	if got := desc.GetNamespaceInfo().GetDescription(); got != "updated description" {
		t.Errorf("description after update = %q, want %q", got, "updated description")
	}
	if got := desc.GetNamespaceInfo().GetOwnerEmail(); got != owner {
		t.Errorf("owner email after description update = %q, want unchanged %q", got, owner)
	}
	if got := desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != retention {
		t.Errorf("retention after description update = %v, want unchanged %v", got, retention)
	}
	err = nc.Update(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: name,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(96 * time.Hour)},
	})
	requireNoError(t, err, "updating retention")
	if got := describeNamespace(t, nc, name).GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != 96*time.Hour {
		t.Errorf("retention after update = %v, want 96h", got)
	}

	// Error cases.
	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        name,
		WorkflowExecutionRetentionPeriod: durationpb.New(retention),
	})
	expectErrorAs[*serviceerror.NamespaceAlreadyExists](t, err, "registering "+name+" twice")

	_, err = nc.Describe(ctx, "no-such-namespace")
	expectErrorAs[*serviceerror.NamespaceNotFound](t, err, "describing an unknown namespace")

	err = nc.Update(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace:  "no-such-namespace",
		UpdateInfo: &namespacepb.UpdateNamespaceInfo{Description: "x"},
	})
	expectErrorAs[*serviceerror.NamespaceNotFound](t, err, "updating an unknown namespace")

	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        "short-retention",
		WorkflowExecutionRetentionPeriod: durationpb.New(59 * time.Minute),
	})
	expectErrorAs[*serviceerror.InvalidArgument](t, err, "registering with a 59m retention")

	for _, bad := range []string{"bad name!", ""} {
		err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        bad,
			WorkflowExecutionRetentionPeriod: durationpb.New(retention),
		})
		expectErrorAs[*serviceerror.InvalidArgument](t, err, "registering invalid namespace name "+quote(bad))
	}

	// Delete through the OperatorService.
	del, err := c.OperatorService().DeleteNamespace(ctx, &operatorservice.DeleteNamespaceRequest{Namespace: name})
	requireNoError(t, err, "OperatorService.DeleteNamespace")
	t.Logf("DeleteNamespace: deleted_namespace=%q", del.GetDeletedNamespace())
	_, err = nc.Describe(ctx, name)
	requireErrorAs[*serviceerror.NamespaceNotFound](t, err, "describing a deleted namespace")
	if names := listAllNamespaces(t, c, 100); contains(names, name) {
		t.Errorf("ListNamespaces after delete still lists %q: %v", name, names)
	}

	// The name can be reused after deletion.
	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        name,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	requireNoError(t, err, "registering "+name+" again after deletion")
	again := describeNamespace(t, nc, name)
	if again.GetNamespaceInfo().GetId() == info.GetId() {
		t.Errorf("re-registered namespace reuses the deleted namespace's id %s", info.GetId())
	}
	if got := again.GetNamespaceInfo().GetDescription(); got != "" {
		t.Errorf("re-registered namespace kept old description %q", got)
	}
}

func quote(s string) string { return "\"" + s + "\"" }

func TestNamespaceSurvivesKill9(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	const name = "durable-ns"
	nc := newNamespaceClient(t, srv.Addr())
	ctx := testCtx(t, 60*time.Second)
	err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        name,
		Description:                      "must survive kill -9",
		WorkflowExecutionRetentionPeriod: durationpb.New(48 * time.Hour),
	})
	requireNoError(t, err, "registering "+name)
	before := describeNamespace(t, nc, name)

	srv.Kill9()
	srv.Restart(t)

	nc2 := newNamespaceClient(t, srv.Addr())
	after := describeNamespace(t, nc2, name)
	if after.GetNamespaceInfo().GetId() != before.GetNamespaceInfo().GetId() {
		t.Errorf("namespace id changed across restart: %s -> %s",
			before.GetNamespaceInfo().GetId(), after.GetNamespaceInfo().GetId())
	}
	if got := after.GetNamespaceInfo().GetDescription(); got != "must survive kill -9" {
		t.Errorf("description after restart = %q", got)
	}
	if got := after.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != 48*time.Hour {
		t.Errorf("retention after restart = %v, want 48h", got)
	}

	c := newClient(t, srv.Addr(), "default")
	names := listAllNamespaces(t, c, 100)
	count := 0
	for _, n := range names {
		if n == "default" {
			count++
		}
	}
	if count != 1 || !contains(names, name) {
		t.Errorf("namespaces after restart = %v; want exactly one default and %q", names, name)
	}
}
