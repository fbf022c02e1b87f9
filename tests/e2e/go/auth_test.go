package e2e

// Authorization as Temporal does it: bearer JWTs (RS256 and ES256, keys made
// here) verified against a JWKS file, their permissions claim mapped to
// roles per namespace; static API keys; every RPC of WorkflowService,
// OperatorService and Health, enumerated from the API's descriptors, refused
// to a caller without rights; the HTTP API; the temporal CLI's --api-key.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// issuer signs tokens with an RSA and a P-256 key published in its JWKS.
type issuer struct {
	rsaKey *rsa.PrivateKey
	ecKey  *ecdsa.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{rsaKey: r, ecKey: e}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (is *issuer) jwks() []byte {
	pad := func(n *big.Int) []byte { return n.FillBytes(make([]byte, 32)) }
	doc := map[string]any{"keys": []map[string]any{
		{"kty": "RSA", "kid": "rsa-key", "alg": "RS256", "use": "sig", "n": b64(is.rsaKey.N.Bytes()),
			"e": b64(big.NewInt(int64(is.rsaKey.E)).Bytes())},
		{"kty": "EC", "kid": "ec-key", "crv": "P-256", "x": b64(pad(is.ecKey.X)), "y": b64(pad(is.ecKey.Y))},
	}}
	out, _ := json.Marshal(doc)
	return out
}

// token signs claims {sub, exp = now+ttl, permissions} with RS256 or ES256.
func (is *issuer) token(t *testing.T, alg string, ttl time.Duration, permissions ...string) string {
	t.Helper()
	kid := map[string]string{"RS256": "rsa-key", "ES256": "ec-key"}[alg]
	header, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": kid})
	payload, _ := json.Marshal(map[string]any{"sub": "tester", "exp": time.Now().Add(ttl).Unix(),
		"permissions": permissions})
	input := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	if alg == "RS256" {
		sig, err = rsa.SignPKCS1v15(rand.Reader, is.rsaKey, crypto.SHA256, digest[:])
	} else {
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, is.ecKey, digest[:])
		if err == nil {
			sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

const testAPIKeys = `{"keys": [
  {"key": "ci-writer-key", "subject": "ci", "permissions": ["default:write"]},
  {"key": "nothing-key", "subject": "nobody", "permissions": ["elsewhere:admin"]}]}`

// startAuthServer serves with --auth-jwks and --auth-api-keys, namespaces
// default and billing, and the HTTP API on the returned port.
func startAuthServer(t *testing.T, is *issuer) (*server, int) {
	t.Helper()
	if againstTemporal(t) {
		t.Skip("Temporal's dev server has no flags for a JWKS file or API keys")
	}
	dir := t.TempDir()
	jwks, keys := filepath.Join(dir, "jwks.json"), filepath.Join(dir, "keys.json")
	if err := os.WriteFile(jwks, is.jwks(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keys, []byte(testAPIKeys), 0o600); err != nil {
		t.Fatal(err)
	}
	httpPort := freePort(t)
	srv := startServer(t, serverOptions{InMemory: true, Namespaces: []string{"billing"},
		KairosArgs: []string{"--auth-jwks", jwks, "--auth-api-keys", keys, "--http-port", strconv.Itoa(httpPort)}})
	return srv, httpPort
}

// authClient dials `namespace` sending `token` as a bearer token (the SDK's
// API key credentials), over plaintext loopback.
func authClient(t *testing.T, addr, namespace, token string) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: namespace, Logger: newTestLogger(t),
		Credentials:       client.NewAPIKeyStaticCredentials(token),
		ConnectionOptions: client.ConnectionOptions{TLSDisabled: true}})
	if err != nil {
		t.Fatalf("dial with a token: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func dialDenied(t *testing.T, addr, token, what string) {
	t.Helper()
	_, err := client.DialContext(testCtx(t, 10*time.Second), client.Options{HostPort: addr, Logger: discardLogger{},
		Credentials:       client.NewAPIKeyStaticCredentials(token),
		ConnectionOptions: client.ConnectionOptions{TLSDisabled: true}})
	requireDenied(t, err, what)
}

func requireDenied(t *testing.T, err error, what string) {
	t.Helper()
	var denied *serviceerror.PermissionDenied
	if !errors.As(err, &denied) || denied.Message != "Request unauthorized." {
		t.Fatalf("%s: want PermissionDenied \"Request unauthorized.\", got %T %v", what, err, err)
	}
}

func startGreeting(t *testing.T, c client.Client, tq string) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{TaskQueue: tq}, Greet, "auth")
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return run
}

func TestAuthRolesPerNamespace(t *testing.T) {
	is := newIssuer(t)
	srv, _ := startAuthServer(t, is)
	ctx := testCtx(t, 60*time.Second)

	// A writer of default, with either key type, runs a workflow end to end
	// (its worker polls and completes tasks).
	for _, alg := range []string{"RS256", "ES256"} {
		writer := authClient(t, srv.Addr(), "default", is.token(t, alg, time.Hour, "default:write"))
		runGreeting(t, writer)
	}
	writer := authClient(t, srv.Addr(), "default", is.token(t, "ES256", time.Hour, "default:write"))
	tq := taskQueueFor(t)
	run := startGreeting(t, writer, tq)

	// The same token in another namespace: refused.
	other := authClient(t, srv.Addr(), "billing", is.token(t, "RS256", time.Hour, "default:write"))
	_, err := other.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: tq}, Greet, "x")
	requireDenied(t, err, "start in a namespace the token has no rights in")
	_, err = other.DescribeWorkflowExecution(ctx, run.GetID(), "")
	requireDenied(t, err, "describe in a namespace the token has no rights in")

	// A reader lists and describes but cannot start, signal or terminate.
	reader := authClient(t, srv.Addr(), "default", is.token(t, "RS256", time.Hour, "default:read"))
	if _, err := reader.DescribeWorkflowExecution(ctx, run.GetID(), ""); err != nil {
		t.Fatalf("reader describe: %v", err)
	}
	if _, err := reader.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default"}); err != nil {
		t.Fatalf("reader list: %v", err)
	}
	if _, err := reader.WorkflowService().DescribeNamespace(ctx,
		&workflowservice.DescribeNamespaceRequest{Namespace: "default"}); err != nil {
		t.Fatalf("reader describe namespace: %v", err)
	}
	_, err = reader.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: tq}, Greet, "x")
	requireDenied(t, err, "reader start")
	requireDenied(t, reader.TerminateWorkflow(ctx, run.GetID(), "", "no"), "reader terminate")
	_, err = reader.WorkflowService().PollWorkflowTaskQueue(ctx, &workflowservice.PollWorkflowTaskQueueRequest{
		Namespace: "default", TaskQueue: nil})
	requireDenied(t, err, "reader poll")

	// "worker" alone: below reader in Temporal's default authorizer, so it
	// can neither poll nor read.
	workerOnly := authClient(t, srv.Addr(), "default", is.token(t, "RS256", time.Hour, "default:worker"))
	_, err = workerOnly.WorkflowService().PollActivityTaskQueue(ctx, &workflowservice.PollActivityTaskQueueRequest{
		Namespace: "default"})
	requireDenied(t, err, "worker-only poll")

	// An admin of default manages it; a writer may not.
	admin := authClient(t, srv.Addr(), "default", is.token(t, "RS256", time.Hour, "default:admin"))
	update := &workflowservice.UpdateNamespaceRequest{Namespace: "default",
		UpdateInfo: nil}
	if _, err := admin.WorkflowService().UpdateNamespace(ctx, update); err != nil {
		t.Fatalf("admin update namespace: %v", err)
	}
	_, err = writer.WorkflowService().UpdateNamespace(ctx, update)
	requireDenied(t, err, "writer update namespace")
	_, err = writer.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: "default"})
	requireDenied(t, err, "writer add search attributes")
	// A system admin may register namespaces, a namespace admin may not.
	register := &workflowservice.RegisterNamespaceRequest{Namespace: "fresh",
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}
	_, err = admin.WorkflowService().RegisterNamespace(ctx, register)
	requireDenied(t, err, "namespace admin registers another namespace")
	root := authClient(t, srv.Addr(), "default", is.token(t, "ES256", time.Hour, "temporal-system:admin"))
	if _, err := root.WorkflowService().RegisterNamespace(ctx, register); err != nil {
		t.Fatalf("system admin register namespace: %v", err)
	}

	// Expired and forged tokens are refused from the first call on (the
	// GetSystemInfo of dialing, as Temporal does with a bad token).
	dialDenied(t, srv.Addr(), is.token(t, "RS256", -time.Minute, "default:admin"), "expired token")
	dialDenied(t, srv.Addr(), newIssuer(t).token(t, "RS256", time.Hour, "temporal-system:admin"),
		"token signed by another key")
	anonymous := newClient(t, srv.Addr(), "default") // Dials: GetSystemInfo and health checks need no token.
	_, err = anonymous.DescribeWorkflowExecution(ctx, run.GetID(), "")
	requireDenied(t, err, "no token")

	// The run started by the writer completes once a worker runs.
	startWorker(t, writer, tq, func(r worker.Registry) {
		r.RegisterWorkflow(Greet)
		r.RegisterActivity(&greetingActivities{})
	})
	var out string
	if err := run.Get(ctx, &out); err != nil {
		t.Fatalf("result: %v", err)
	}
}

func TestAuthAPIKeys(t *testing.T) {
	is := newIssuer(t)
	srv, _ := startAuthServer(t, is)
	ctx := testCtx(t, 30*time.Second)
	runGreeting(t, authClient(t, srv.Addr(), "default", "ci-writer-key"))
	billing := authClient(t, srv.Addr(), "billing", "ci-writer-key")
	_, err := billing.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "q"}, Greet, "x")
	requireDenied(t, err, "API key in another namespace")
	// As Temporal: a token that is there must be good, even for the
	// GetSystemInfo the SDK dials with.
	dialDenied(t, srv.Addr(), "not-a-key", "dial with an unknown API key")
}

// emptyRequest is a zero request of `method`'s input type.
func emptyRequest(method protoreflect.MethodDescriptor) *dynamicpb.Message {
	msg := dynamicpb.NewMessage(method.Input())
	if f := method.Input().Fields().ByName("namespace"); f != nil {
		msg.Set(f, protoreflect.ValueOfString("default"))
	}
	return msg
}

// Every RPC the API defines, called with a token that has rights only in
// another namespace, and with none: refused before any handler runs, except
// the two health checks Temporal lets everyone make.
func TestAuthEveryRPCIsChecked(t *testing.T) {
	is := newIssuer(t)
	srv, _ := startAuthServer(t, is)
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	services := []protoreflect.ServiceDescriptor{
		workflowservice.File_temporal_api_workflowservice_v1_service_proto.Services().Get(0),
		operatorservice.File_temporal_api_operatorservice_v1_service_proto.Services().Get(0),
		healthpb.File_grpc_health_v1_health_proto.Services().Get(0),
	}
	allowed := map[string]bool{
		"/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo": true,
		"/grpc.health.v1.Health/Check":                                   true,
	}
	tokens := map[string]string{
		"other namespace's admin": "Bearer " + is.token(t, "RS256", time.Hour, "elsewhere:admin"),
		"API key without rights":  "Bearer nothing-key",
		"no token":                "",
		// Run last (see below): it may delete the namespace.
		"system admin": "Bearer " + is.token(t, "ES256", time.Hour, "temporal-system:admin"),
	}
	count := 0
	for _, who := range []string{"other namespace's admin", "API key without rights", "no token", "system admin"} {
		auth := tokens[who]
		for _, svc := range services {
			methods := svc.Methods()
			for i := 0; i < methods.Len(); i++ {
				m := methods.Get(i)
				full := "/" + string(svc.FullName()) + "/" + string(m.Name())
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if auth != "" {
					ctx = metadata.AppendToOutgoingContext(ctx, "authorization", auth)
				}
				req := emptyRequest(m)
				if m.IsStreamingServer() || m.IsStreamingClient() {
					stream, err2 := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: m.IsStreamingClient()}, full)
					err = err2
					if err == nil {
						if err = stream.SendMsg(req); err == nil {
							_ = stream.CloseSend()
							err = stream.RecvMsg(dynamicpb.NewMessage(m.Output()))
						}
					}
				} else {
					err = conn.Invoke(ctx, full, req, dynamicpb.NewMessage(m.Output()))
				}
				cancel()
				count++
				code := status.Code(err)
				if who == "system admin" {
					// Not refused (the check denies nothing it should allow);
					// Health's Watch and List have no category: Temporal refuses
					// them to all.
					// The legacy build-id versioning methods answer PermissionDenied
					// to everyone, as Temporal 1.32 does (disabled).
					if code == codes.PermissionDenied && svc.FullName() != "grpc.health.v1.Health" &&
						!strings.HasPrefix(status.Convert(err).Message(), "Worker versioning v0.") {
						t.Errorf("%s with %s: refused: %v", full, who, err)
					}
					continue
				}
				if allowed[full] {
					if code == codes.PermissionDenied {
						t.Errorf("%s with %s: refused, but Temporal lets everyone make it", full, who)
					}
					continue
				}
				if code != codes.PermissionDenied || status.Convert(err).Message() != "Request unauthorized." {
					t.Errorf("%s with %s: want PermissionDenied \"Request unauthorized.\", got %v", full, who, err)
				}
			}
		}
	}
	if want := 4 * (services[0].Methods().Len() + services[1].Methods().Len() + services[2].Methods().Len()); count != want {
		t.Fatalf("%d calls made, want %d", count, want)
	}
	t.Logf("%d calls checked (%d WorkflowService, %d OperatorService, %d Health methods, 4 callers)", count,
		services[0].Methods().Len(), services[1].Methods().Len(), services[2].Methods().Len())
}

// The HTTP API forwards the Authorization header to the same check.
func TestAuthHTTPAPI(t *testing.T) {
	is := newIssuer(t)
	_, httpPort := startAuthServer(t, is)
	url := "http://127.0.0.1:" + strconv.Itoa(httpPort) + "/api/v1/namespaces/default/workflows"
	get := func(auth string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("Bearer " + is.token(t, "RS256", time.Hour, "default:read")); code != 200 {
		t.Fatalf("reader over HTTP: %d", code)
	}
	for _, auth := range []string{"", "Bearer nothing-key", "Bearer " + is.token(t, "ES256", time.Hour, "billing:read")} {
		if code := get(auth); code != 403 {
			t.Fatalf("HTTP API with %q: %d, want 403", auth, code)
		}
	}
}

// temporalCLI is the temporal CLI: $TEMPORAL_CLI, on PATH, or pyenv's.
func temporalCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TEMPORAL_CLI"); p != "" {
		return p
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p
	}
	if out, err := exec.Command("pyenv", "which", "temporal").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	t.Skip("no temporal CLI (set TEMPORAL_CLI)")
	return ""
}

// The temporal CLI sends --api-key as a bearer token.
func TestAuthTemporalCLI(t *testing.T) {
	is := newIssuer(t)
	srv, _ := startAuthServer(t, is)
	cli := temporalCLI(t)
	run := func(key string) (string, error) {
		cmd := exec.Command(cli, "workflow", "list", "--address", srv.Addr(), "--namespace", "default",
			"--api-key", key, "--tls=false")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("ci-writer-key"); err != nil {
		t.Fatalf("CLI with a good API key: %v\n%s", err, out)
	}
	if out, err := run(is.token(t, "RS256", time.Hour, "default:read")); err != nil {
		t.Fatalf("CLI with a reader JWT: %v\n%s", err, out)
	}
	out, err := run("nothing-key")
	if err == nil || !strings.Contains(out, "Request unauthorized") {
		t.Fatalf("CLI with a key without rights: %v\n%s", err, out)
	}
}
