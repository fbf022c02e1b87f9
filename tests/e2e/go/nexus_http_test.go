package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
)

// nexusHTTPReply is what a Nexus HTTP call answered.
type nexusHTTPReply struct {
	status int
	header http.Header
	body   string
}

func (r nexusHTTPReply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("reply body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func nexusHTTPPost(t *testing.T, method, target, body string, header map[string]string) nexusHTTPReply {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t, 30*time.Second), method, target, strings.NewReader(body))
	requireNoError(t, err, "request")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	requireNoError(t, err, method+" "+target)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	requireNoError(t, err, "read body")
	return nexusHTTPReply{resp.StatusCode, resp.Header, string(b)}
}

// postedCompletion is a completion a caller's callback URL got.
type postedCompletion struct {
	header http.Header
	body   string
}

// catchCompletions serves a callback URL that takes every completion; next
// waits for the next one.
func catchCompletions(t *testing.T) (*httptest.Server, func() postedCompletion) {
	t.Helper()
	got := make(chan postedCompletion, 4)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- postedCompletion{r.Header.Clone(), string(b)}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(cb.Close)
	return cb, func() postedCompletion {
		t.Helper()
		select {
		case c := <-got:
			return c
		case <-time.After(20 * time.Second):
			t.Fatalf("no completion posted to the callback URL")
		}
		return postedCompletion{}
	}
}

// startNexusHTTPPair is a nexusPair on a server whose HTTP API listens on a
// known port; it returns the base URL of the pair's endpoint.
func startNexusHTTPPair(t *testing.T, dynamicConfig ...string) (*nexusPair, string, string) {
	t.Helper()
	port := strconv.Itoa(freePort(t))
	p := startNexusPairWithArgs(t, dynamicConfig, []string{"--http-port", port})
	resp, err := p.caller.OperatorService().ListNexusEndpoints(testCtx(t, 10*time.Second),
		&operatorservice.ListNexusEndpointsRequest{Name: p.endpoint})
	requireNoError(t, err, "list endpoints")
	if len(resp.Endpoints) != 1 {
		t.Fatalf("endpoint %s: found %d", p.endpoint, len(resp.Endpoints))
	}
	base := "http://127.0.0.1:" + port
	return p, base, base + "/nexus/endpoints/" + url.PathEscape(resp.Endpoints[0].Id) + "/services/" + nexusServiceName
}

// Nexus's HTTP endpoint: an outside caller starts and cancels operations of
// the endpoint's handler worker, with the protocol's answers and failures.
func TestNexusHTTPEndpoint(t *testing.T) {
	p, base, svc := startNexusHTTPPair(t)
	jsonHeader := map[string]string{"Content-Type": "application/json"}

	t.Run("sync result", func(t *testing.T) {
		r := nexusHTTPPost(t, "POST", svc+"/echo", `"hi"`, jsonHeader)
		if r.status != 200 || r.header.Get("Content-Type") != "application/json" || r.body != `"echo: hi"` {
			t.Fatalf("echo: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
		}
	})

	t.Run("by namespace and task queue", func(t *testing.T) {
		target := base + "/namespaces/" + nexusHandlerNamespace + "/task-queues/" + url.PathEscape(p.handlerTQ) +
			"/nexus-services/" + nexusServiceName + "/echo"
		r := nexusHTTPPost(t, "POST", target, `"queue"`, jsonHeader)
		if r.status != 200 || r.body != `"echo: queue"` {
			t.Fatalf("echo by queue: %d %q", r.status, r.body)
		}
		r = nexusHTTPPost(t, "POST", base+"/namespaces/no-such-ns/task-queues/q/nexus-services/s/o", `""`, jsonHeader)
		if r.status != 404 || r.json(t)["message"] != `namespace not found: "no-such-ns"` {
			t.Fatalf("unknown namespace: %d %s", r.status, r.body)
		}
	})

	t.Run("async start and cancel", func(t *testing.T) {
		header := map[string]string{"Content-Type": "application/json", "Nexus-Request-Id": "req-http-1"}
		r := nexusHTTPPost(t, "POST", svc+"/greet", `"wait-http"`, header)
		if r.status != 201 {
			t.Fatalf("greet: %d %s", r.status, r.body)
		}
		info := r.json(t)
		token, _ := info["token"].(string)
		if token == "" || info["state"] != "running" {
			t.Fatalf("greet answer: %s", r.body)
		}
		if links := r.header.Values("Nexus-Link"); len(links) != 1 || !strings.Contains(links[0], "temporal:///namespaces/"+nexusHandlerNamespace+"/workflows/") {
			t.Fatalf("greet links: %q", links)
		}
		handlerRun := p.handler.GetWorkflow(testCtx(t, 5*time.Second), nexusHandlerWorkflowID("wait-http"), "")
		// The same request id is the same operation.
		again := nexusHTTPPost(t, "POST", svc+"/greet", `"wait-http"`, header)
		if again.status != 201 || again.json(t)["token"] != token {
			t.Fatalf("retried start: %d %s", again.status, again.body)
		}
		c := nexusHTTPPost(t, "POST", svc+"/greet/cancel", "", map[string]string{"Nexus-Operation-Token": token})
		if c.status != 202 || c.body != "" {
			t.Fatalf("cancel: %d %q", c.status, c.body)
		}
		err := handlerRun.Get(testCtx(t, 20*time.Second), nil)
		if err == nil || !strings.Contains(err.Error(), "canceled") {
			t.Fatalf("handler run after cancel: %v", err)
		}
		desc, derr := p.handler.DescribeWorkflowExecution(testCtx(t, 5*time.Second), handlerRun.GetID(), handlerRun.GetRunID())
		requireNoError(t, derr, "describe handler run")
		if desc.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
			t.Fatalf("handler run status %v", desc.WorkflowExecutionInfo.Status)
		}
		missing := nexusHTTPPost(t, "POST", svc+"/greet/cancel", "", nil)
		if missing.status != 400 || missing.json(t)["message"] != "missing operation token" {
			t.Fatalf("cancel without token: %d %s", missing.status, missing.body)
		}
	})

	t.Run("callback address not allowed", func(t *testing.T) {
		// Without callback.allowedAddresses no outside URL may be called
		// back: the handler's start of its workflow is refused.
		r := nexusHTTPPost(t, "POST", svc+"/greet?callback="+url.QueryEscape("http://127.0.0.1:9/cb"), `"no-callback"`, jsonHeader)
		if r.status != 400 || !strings.Contains(r.json(t)["message"].(string),
			"invalid url: url does not match any configured callback address: http://127.0.0.1:9/cb") {
			t.Fatalf("callback refused: %d %s", r.status, r.body)
		}
	})

	t.Run("operation failure", func(t *testing.T) {
		r := nexusHTTPPost(t, "POST", svc+"/fail", `"operation"`, jsonHeader)
		if r.status != 424 || r.header.Get("Nexus-Operation-State") != "failed" ||
			r.header.Get("Temporal-Nexus-Failure-Source") != "worker" {
			t.Fatalf("operation failure: %d %v %s", r.status, r.header, r.body)
		}
		if m := r.json(t); m["message"] != "the operation failed" {
			t.Fatalf("operation failure body: %s", r.body)
		}
		// A caller that announces Temporal's failure support gets the wrapper.
		header := map[string]string{"Content-Type": "application/json", "Temporal-Nexus-Failure-Support": "true"}
		w := nexusHTTPPost(t, "POST", svc+"/fail", `"operation"`, header)
		m := w.json(t)
		md, _ := m["metadata"].(map[string]any)
		if w.status != 424 || m["message"] != "operation error" || md["type"] != "nexus.OperationError" ||
			!strings.Contains(w.body, `"message":"the operation failed"`) {
			t.Fatalf("operation failure with failure support: %d %s", w.status, w.body)
		}
	})

	t.Run("handler errors", func(t *testing.T) {
		r := nexusHTTPPost(t, "POST", svc+"/fail", `"oops"`, jsonHeader)
		if r.status != 400 || r.json(t)["message"] != `bad input "oops"` || r.header.Get("Temporal-Nexus-Failure-Source") != "worker" {
			t.Fatalf("bad request: %d %v %s", r.status, r.header, r.body)
		}
		r = nexusHTTPPost(t, "POST", svc+"/fail", `"unavailable"`, jsonHeader)
		if r.status != 503 || r.json(t)["message"] != "not now" {
			t.Fatalf("unavailable: %d %s", r.status, r.body)
		}
		r = nexusHTTPPost(t, "POST", svc+"/nope", `""`, jsonHeader)
		if r.status != 404 {
			t.Fatalf("unknown operation: %d %s", r.status, r.body)
		}
	})

	t.Run("server errors", func(t *testing.T) {
		r := nexusHTTPPost(t, "POST", base+"/nexus/endpoints/6f1e0c35-8c7d-4d2a-9b51-0a4b2c9d7e11/services/s/o", `""`, jsonHeader)
		if r.status != 404 || r.json(t)["message"] != "nexus endpoint not found" || r.header.Get("Nexus-Request-Retryable") != "false" {
			t.Fatalf("unknown endpoint: %d %v %s", r.status, r.header, r.body)
		}
		// Temporal's store takes endpoint ids as UUIDs only.
		r = nexusHTTPPost(t, "POST", base+"/nexus/endpoints/no-such-endpoint/services/s/o", `""`, jsonHeader)
		if r.status != 500 || r.json(t)["message"] != "internal error" {
			t.Fatalf("endpoint id not a UUID: %d %s", r.status, r.body)
		}
		r = nexusHTTPPost(t, "GET", svc+"/echo", "", nil)
		if r.status != 400 || r.json(t)["message"] != `invalid request method: expected POST, got "GET"` {
			t.Fatalf("GET: %d %s", r.status, r.body)
		}
		r = nexusHTTPPost(t, "POST", svc+"/echo", `"x"`, map[string]string{"Content-Type": "application/json", "Request-Timeout": "soon"})
		if r.status != 400 || r.json(t)["message"] != "invalid request timeout header" {
			t.Fatalf("bad timeout: %d %s", r.status, r.body)
		}
		r = nexusHTTPPost(t, "POST", svc+"/echo/a/b/c", `"x"`, jsonHeader)
		if r.status != 404 || r.json(t)["message"] != "not found" {
			t.Fatalf("bad path: %d %s", r.status, r.body)
		}
	})

	t.Run("upstream timeout", func(t *testing.T) {
		idle := p.idleEndpoint(t)
		resp, err := p.caller.OperatorService().ListNexusEndpoints(testCtx(t, 10*time.Second),
			&operatorservice.ListNexusEndpointsRequest{Name: idle})
		requireNoError(t, err, "list idle endpoint")
		target := base + "/nexus/endpoints/" + resp.Endpoints[0].Id + "/services/" + nexusServiceName + "/echo"
		started := time.Now()
		r := nexusHTTPPost(t, "POST", target, `"x"`, map[string]string{"Content-Type": "application/json", "Request-Timeout": "300ms"})
		if r.status != 520 || r.json(t)["message"] != "upstream timeout" {
			t.Fatalf("no worker: %d %s", r.status, r.body)
		}
		if waited := time.Since(started); waited > 10*time.Second {
			t.Fatalf("upstream timeout took %v", waited)
		}
	})
}

// An operation started over HTTP with a callback URL: when the handler's
// workflow ends, the server posts the outcome there, as Nexus completions go.
func TestNexusHTTPCompletionCallback(t *testing.T) {
	_, _, svc := startNexusHTTPPair(t, `callback.allowedAddresses=[{"Pattern":"*","AllowInsecure":true}]`)
	cb, next := catchCompletions(t)

	header := map[string]string{"Content-Type": "application/json", "Nexus-Request-Id": "req-cb-1",
		"Nexus-Callback-Caller-Ref": "ref-42"}
	r := nexusHTTPPost(t, "POST", svc+"/greet?callback="+url.QueryEscape(cb.URL+"/done"), `"callback"`, header)
	if r.status != 201 {
		t.Fatalf("greet: %d %s", r.status, r.body)
	}
	c := next()
	if c.header.Get("Nexus-Operation-State") != "succeeded" || c.header.Get("Caller-Ref") != "ref-42" ||
		c.header.Get("Content-Type") != "application/json" || c.body != `"hello callback"` {
		t.Fatalf("completion: %v %s", c.header, c.body)
	}
	link := c.header.Get("Nexus-Link")
	if !strings.Contains(link, "/workflows/"+nexusHandlerWorkflowID("callback")+"/") ||
		!strings.Contains(link, "eventType=WorkflowExecutionStarted") {
		t.Fatalf("completion link: %q", link)
	}
	if _, err := http.ParseTime(c.header.Get("Nexus-Operation-Start-Time")); err != nil {
		t.Fatalf("start time %q: %v", c.header.Get("Nexus-Operation-Start-Time"), err)
	}
	if _, err := time.Parse(time.RFC3339Nano, c.header.Get("Nexus-Operation-Close-Time")); err != nil {
		t.Fatalf("close time %q: %v", c.header.Get("Nexus-Operation-Close-Time"), err)
	}

	// A handler run that fails reports the failure.
	header["Nexus-Request-Id"] = "req-cb-2"
	r = nexusHTTPPost(t, "POST", svc+"/greet?callback="+url.QueryEscape(cb.URL+"/done"), `"fail"`, header)
	if r.status != 201 {
		t.Fatalf("greet fail: %d %s", r.status, r.body)
	}
	c = next()
	var failure map[string]any
	if err := json.Unmarshal([]byte(c.body), &failure); err != nil {
		t.Fatalf("failure body %q: %v", c.body, err)
	}
	md, _ := failure["metadata"].(map[string]any)
	if c.header.Get("Nexus-Operation-State") != "failed" || c.header.Get("Content-Type") != "application/json" ||
		failure["message"] != "handler workflow failed" || md["type"] != "temporal.api.failure.v1.Failure" {
		t.Fatalf("failed completion: %v %s", c.header, c.body)
	}
}

// A completion the caller's URL could not take yet survives a server
// kill -9: after the restart it is posted again until the caller takes it.
func TestNexusHTTPCompletionCallbackAcrossKill9(t *testing.T) {
	p, _, svc := startNexusHTTPPair(t, `callback.allowedAddresses=[{"Pattern":"*","AllowInsecure":true}]`)
	var accept atomic.Bool
	attempts := make(chan string, 64)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !accept.Load() {
			attempts <- "refused"
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		attempts <- r.Header.Get("Nexus-Operation-State") + " " + string(b)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(cb.Close)
	next := func() string {
		select {
		case a := <-attempts:
			return a
		case <-time.After(30 * time.Second):
			t.Fatalf("no completion attempt")
		}
		return ""
	}

	r := nexusHTTPPost(t, "POST", svc+"/greet?callback="+url.QueryEscape(cb.URL+"/done"), `"kill"`,
		map[string]string{"Content-Type": "application/json", "Nexus-Request-Id": "req-kill"})
	if r.status != 201 {
		t.Fatalf("greet: %d %s", r.status, r.body)
	}
	if a := next(); a != "refused" {
		t.Fatalf("first attempt: %q", a)
	}
	p.srv.Kill9()
	accept.Store(true)
	p.srv.Restart(t)
	// Attempts refused before the kill may still be in the channel.
	for a := next(); a != `succeeded "hello kill"`; a = next() {
		if a != "refused" {
			t.Fatalf("completion after restart: %q", a)
		}
	}
}
