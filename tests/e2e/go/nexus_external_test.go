package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	nexuspb "go.temporal.io/api/nexus/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// externalNexusStart is one start request the test's Nexus handler got.
type externalNexusStart struct {
	operation string
	input     string
	header    http.Header
	callback  string
}

// externalNexusHandler is a Nexus HTTP handler run by the test process
// itself, the target of an endpoint with an external URL: "echo" answers
// synchronously, "later" starts an asynchronous operation (token
// "tok-<input>") whose completion the test posts ("flaky" too, after
// answering 503 to its first request), "refuse" fails the
// operation (424), "bad" answers a bad-request handler error.
type externalNexusHandler struct {
	mu      sync.Mutex
	starts  map[string]externalNexusStart // By input.
	tries   map[string]int                // Start requests by input.
	cancels []string                      // Tokens of cancel requests.
	arrived chan string                   // Inputs, as their start arrives.
}

func (h *externalNexusHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) < 2 || parts[0] != nexusServiceName || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if len(parts) == 3 && parts[2] == "cancel" {
		h.mu.Lock()
		h.cancels = append(h.cancels, r.Header.Get("Nexus-Operation-Token"))
		h.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var input string
	_ = json.Unmarshal(body, &input)
	h.mu.Lock()
	h.starts[input] = externalNexusStart{parts[1], input, r.Header.Clone(), r.URL.Query().Get("callback")}
	h.tries[input]++
	tries := h.tries[input]
	h.mu.Unlock()
	if parts[1] == "flaky" && tries == 1 {
		// Unavailable at first: the caller tries again.
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	select {
	case h.arrived <- input:
	default:
	}
	switch parts[1] {
	case "echo":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Nexus-Link", `<https://example.com/echo>; type="example.Echo"`)
		_, _ = w.Write([]byte(strconv.Quote("echo: " + input)))
	case "later", "flaky":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"token":"tok-` + input + `","state":"running"}`))
	case "refuse":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Nexus-Operation-State", "failed")
		w.WriteHeader(424)
		_, _ = w.Write([]byte(`{"message":"handler says no"}`))
	case "bad":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"message":"bad input"}`))
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (h *externalNexusHandler) start(input string) (externalNexusStart, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.starts[input]
	return s, ok
}

// externalNexusPair is a server with a caller worker and an endpoint whose
// target is the test's own handler.
type externalNexusPair struct {
	srv      *server
	caller   client.Client
	callerTQ string
	endpoint string
	handler  *externalNexusHandler
	httpBase string
}

func startExternalNexusPair(t *testing.T) *externalNexusPair {
	t.Helper()
	port := strconv.Itoa(freePort(t))
	// Temporal's dev server leaves the callback URL template unset (Kairos
	// defaults to its own HTTP port): set it for both.
	return startExternalNexusPairWith(t, port, []string{
		`component.nexusoperations.callback.endpoint.template="http://127.0.0.1:` + port + `/namespaces/{{.NamespaceName}}/nexus/callback"`})
}

func startExternalNexusPairWith(t *testing.T, port string, dynamicConfig []string) *externalNexusPair {
	t.Helper()
	p := &externalNexusPair{handler: &externalNexusHandler{starts: map[string]externalNexusStart{}, tries: map[string]int{}, arrived: make(chan string, 16)}}
	hs := httptest.NewServer(p.handler)
	t.Cleanup(hs.Close)
	p.srv = startServer(t, serverOptions{ExtraArgs: []string{"--http-port", port}, DynamicConfig: dynamicConfig})
	p.httpBase = "http://127.0.0.1:" + port
	p.caller = newClient(t, p.srv.Addr(), "default")
	p.callerTQ = taskQueueFor(t) + "-caller"
	p.endpoint = "ext-" + strings.ReplaceAll(strings.ToLower(t.Name()), "_", "-")
	_, err := p.caller.OperatorService().CreateNexusEndpoint(testCtx(t, 10*time.Second), &operatorservice.CreateNexusEndpointRequest{
		Spec: &nexuspb.EndpointSpec{
			Name: p.endpoint,
			Target: &nexuspb.EndpointTarget{Variant: &nexuspb.EndpointTarget_External_{External: &nexuspb.EndpointTarget_External{
				Url: hs.URL}}},
		},
	})
	requireNoError(t, err, "create external endpoint")
	startWorker(t, p.caller, p.callerTQ, func(r worker.Registry) { r.RegisterWorkflow(NexusCallerWorkflow) })
	return p
}

func (p *externalNexusPair) run(t *testing.T, id string, call nexusCall) client.WorkflowRun {
	t.Helper()
	call.Endpoint = p.endpoint
	if call.Timeout == 0 {
		call.Timeout = time.Minute
	}
	run, err := p.caller.ExecuteWorkflow(testCtx(t, 10*time.Second),
		client.StartWorkflowOptions{ID: id, TaskQueue: p.callerTQ}, NexusCallerWorkflow, call)
	requireNoError(t, err, "start caller")
	return run
}

// waitStart waits for the handler to get the start request of `input`.
func (p *externalNexusPair) waitStart(t *testing.T, input string) externalNexusStart {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if s, ok := p.handler.start(input); ok {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the handler got no start request for %q", input)
	return externalNexusStart{}
}

// complete posts a completion to the callback URL a start request carried,
// with its callback headers.
func complete(t *testing.T, s externalNexusStart, url string, header map[string]string, body string) nexusHTTPReply {
	t.Helper()
	h := map[string]string{}
	for k, v := range s.header {
		if strings.HasPrefix(k, "Nexus-Callback-") {
			h[strings.TrimPrefix(k, "Nexus-Callback-")] = v[0]
		}
	}
	for k, v := range header {
		h[k] = v
	}
	if url == "" {
		url = s.callback
	}
	return nexusHTTPPost(t, "POST", url, body, h)
}

func callerEvents(t *testing.T, p *externalNexusPair, run client.WorkflowRun) []*historypb.HistoryEvent {
	t.Helper()
	return getHistory(t, p.caller, run.GetID(), run.GetRunID())
}

// Operations on an endpoint whose target is an external URL: the server
// calls the handler over HTTP (sync and async starts, operation failures,
// handler errors, cancel requests) and takes the asynchronous operations'
// completions on its callback route.
func TestNexusExternalEndpoint(t *testing.T) {
	p := startExternalNexusPair(t)

	t.Run("sync", func(t *testing.T) {
		run := p.run(t, "ext-sync", nexusCall{Operation: "echo", Input: "hi"})
		var out string
		requireNoError(t, getResult(t, p.caller, run, 30*time.Second, &out), "sync result")
		if out != "echo: hi" {
			t.Fatalf("sync result %q", out)
		}
		s := p.waitStart(t, "hi")
		if s.header.Get("Nexus-Request-Id") == "" || s.header.Get("Content-Type") != "application/json" ||
			s.header.Get("Request-Timeout") == "" || s.header.Get("Nexus-Callback-Temporal-Callback-Token") == "" {
			t.Fatalf("start request headers: %v", s.header)
		}
		if !strings.HasSuffix(s.callback, "/namespaces/default/nexus/callback") {
			t.Fatalf("callback URL %q", s.callback)
		}
		if link := s.header.Get("Nexus-Link"); !strings.Contains(link, "/workflows/ext-sync/") ||
			!strings.Contains(link, "NexusOperationScheduled") {
			t.Fatalf("start request link %q", link)
		}
		events := callerEvents(t, p, run)
		sched := eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)
		done := eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
		if len(sched) != 1 || len(done) != 1 || countEvents(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED) != 0 {
			t.Fatalf("sync history:\n%s", formatHistory(events))
		}
		if got := string(done[0].GetNexusOperationCompletedEventAttributes().GetResult().GetData()); got != `"echo: hi"` {
			t.Fatalf("completed result %s", got)
		}
		if sched[0].GetNexusOperationScheduledEventAttributes().GetRequestId() != s.header.Get("Nexus-Request-Id") {
			t.Fatalf("request id %q, scheduled %q", s.header.Get("Nexus-Request-Id"),
				sched[0].GetNexusOperationScheduledEventAttributes().GetRequestId())
		}
	})

	t.Run("async succeeded", func(t *testing.T) {
		run := p.run(t, "ext-async", nexusCall{Operation: "later", Input: "a1"})
		s := p.waitStart(t, "a1")
		started := waitForEvent(t, p.caller, run.GetID(), run.GetRunID(), enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, 20*time.Second)
		if started.GetNexusOperationStartedEventAttributes().GetOperationToken() != "tok-a1" {
			t.Fatalf("started: %v", started)
		}
		r := complete(t, s, "", map[string]string{"Nexus-Operation-State": "succeeded", "Content-Type": "application/json"}, `"done a1"`)
		if r.status != 200 {
			t.Fatalf("completion: %d %s", r.status, r.body)
		}
		var out string
		requireNoError(t, getResult(t, p.caller, run, 30*time.Second, &out), "async result")
		if out != "done a1" {
			t.Fatalf("async result %q", out)
		}
		events := callerEvents(t, p, run)
		for _, et := range []enumspb.EventType{enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
			enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED} {
			if countEvents(events, et) != 1 {
				t.Fatalf("async history (%v):\n%s", et, formatHistory(events))
			}
		}
		if got := string(eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)[0].
			GetNexusOperationCompletedEventAttributes().GetResult().GetData()); got != `"done a1"` {
			t.Fatalf("completed result %s", got)
		}
		// Again, once the operation (and its caller) has closed.
		again := complete(t, s, "", map[string]string{"Nexus-Operation-State": "succeeded", "Content-Type": "application/json"}, `"done a1"`)
		t.Logf("second completion: %d %s", again.status, again.body)
		if msg, _ := again.json(t)["message"].(string); again.status != 404 ||
			msg != "stale reference: state machine not found: nexusoperations.Operation:5" {
			t.Fatalf("second completion: %d %s", again.status, again.body)
		}
		// The namespace in the URL must be the token's.
		wrong := complete(t, s, p.httpBase+"/namespaces/other/nexus/callback",
			map[string]string{"Nexus-Operation-State": "succeeded", "Content-Type": "application/json"}, `"x"`)
		if wrong.status != 400 || wrong.json(t)["message"] != "invalid callback token" {
			t.Fatalf("other namespace: %d %s", wrong.status, wrong.body)
		}
	})

	t.Run("async failed", func(t *testing.T) {
		run := p.run(t, "ext-failed", nexusCall{Operation: "later", Input: "f1"})
		s := p.waitStart(t, "f1")
		waitForEvent(t, p.caller, run.GetID(), run.GetRunID(), enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, 20*time.Second)
		r := complete(t, s, "", map[string]string{"Nexus-Operation-State": "failed", "Content-Type": "application/json"},
			`{"message":"it failed"}`)
		if r.status != 200 {
			t.Fatalf("failed completion: %d %s", r.status, r.body)
		}
		err := getResult(t, p.caller, run, 30*time.Second, nil)
		if err == nil || !strings.Contains(err.Error(), "it failed") {
			t.Fatalf("caller after failure: %v", err)
		}
		failed := eventsOfType(callerEvents(t, p, run), enumspb.EVENT_TYPE_NEXUS_OPERATION_FAILED)
		if len(failed) != 1 {
			t.Fatalf("no NexusOperationFailed")
		}
		f := failed[0].GetNexusOperationFailedEventAttributes().GetFailure()
		if f.GetMessage() != "nexus operation completed unsuccessfully" || f.GetCause().GetMessage() != "it failed" ||
			f.GetNexusOperationExecutionFailureInfo().GetOperationToken() != "tok-f1" {
			t.Fatalf("failed event failure: %v", f)
		}
	})

	t.Run("async canceled", func(t *testing.T) {
		run := p.run(t, "ext-canceled", nexusCall{Operation: "later", Input: "c1", CancelAfterStart: true})
		s := p.waitStart(t, "c1")
		waitForEvent(t, p.caller, run.GetID(), run.GetRunID(), enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED, 20*time.Second)
		p.handler.mu.Lock()
		cancels := append([]string(nil), p.handler.cancels...)
		p.handler.mu.Unlock()
		if len(cancels) != 1 || cancels[0] != "tok-c1" {
			t.Fatalf("cancel requests: %q", cancels)
		}
		r := complete(t, s, "", map[string]string{"Nexus-Operation-State": "canceled", "Content-Type": "application/json"},
			`{"message":"gave up"}`)
		if r.status != 200 {
			t.Fatalf("canceled completion: %d %s", r.status, r.body)
		}
		err := getResult(t, p.caller, run, 30*time.Second, nil)
		if err == nil || !strings.Contains(err.Error(), "canceled") {
			t.Fatalf("caller after cancel: %v", err)
		}
		canceled := eventsOfType(callerEvents(t, p, run), enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCELED)
		if len(canceled) != 1 {
			t.Fatalf("no NexusOperationCanceled")
		}
		cause := canceled[0].GetNexusOperationCanceledEventAttributes().GetFailure().GetCause()
		if cause.GetMessage() != "gave up" || cause.GetCanceledFailureInfo() == nil {
			t.Fatalf("canceled cause: %v", cause)
		}
	})

	t.Run("operation failure and handler error", func(t *testing.T) {
		run := p.run(t, "ext-refuse", nexusCall{Operation: "refuse", Input: "r1"})
		err := getResult(t, p.caller, run, 30*time.Second, nil)
		if err == nil || !strings.Contains(err.Error(), "handler says no") {
			t.Fatalf("refused: %v", err)
		}
		failed := eventsOfType(callerEvents(t, p, run), enumspb.EVENT_TYPE_NEXUS_OPERATION_FAILED)
		if len(failed) != 1 || failed[0].GetNexusOperationFailedEventAttributes().GetFailure().GetCause().GetMessage() != "handler says no" {
			t.Fatalf("refused history:\n%s", formatHistory(callerEvents(t, p, run)))
		}

		run = p.run(t, "ext-bad", nexusCall{Operation: "bad", Input: "b1"})
		err = getResult(t, p.caller, run, 30*time.Second, nil)
		if err == nil {
			t.Fatalf("bad request: no error")
		}
		failed = eventsOfType(callerEvents(t, p, run), enumspb.EVENT_TYPE_NEXUS_OPERATION_FAILED)
		if len(failed) != 1 {
			t.Fatalf("bad request history:\n%s", formatHistory(callerEvents(t, p, run)))
		}
		cause := failed[0].GetNexusOperationFailedEventAttributes().GetFailure().GetCause()
		if cause.GetNexusHandlerFailureInfo().GetType() != "BAD_REQUEST" || cause.GetCause().GetMessage() != "bad input" {
			t.Fatalf("bad request cause: %v", cause)
		}
	})
}

// Without component.nexusoperations.callback.endpoint.template, Temporal's
// dev server cannot start an operation on an external endpoint (the value
// is "unset": the start is retried, the handler never called); Kairos's
// default is its own HTTP API's callback route.
func TestNexusExternalDefaultCallbackURL(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	p := startExternalNexusPairWith(t, port, nil)
	run := p.run(t, "ext-default", nexusCall{Operation: "echo", Input: "d1"})
	if againstTemporal(t) {
		time.Sleep(3 * time.Second)
		if _, ok := p.handler.start("d1"); ok {
			t.Fatalf("Temporal called the handler without a callback URL template")
		}
		return
	}
	var out string
	requireNoError(t, getResult(t, p.caller, run, 30*time.Second, &out), "sync result")
	if s := p.waitStart(t, "d1"); s.callback != "http://127.0.0.1:"+port+"/namespaces/default/nexus/callback" {
		t.Fatalf("default callback URL %q", s.callback)
	}
}

// The completion route refuses what it cannot take, with Temporal's
// statuses and messages.
func TestNexusCallbackRouteRefusals(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	startServer(t, serverOptions{ExtraArgs: []string{"--http-port", port}})
	url := "http://127.0.0.1:" + port + "/namespaces/default/nexus/callback"
	jsonType := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name    string
		header  map[string]string
		body    string
		status  int
		message string
	}{
		{"no token", map[string]string{"Nexus-Operation-State": "succeeded"}, `"x"`, 400, "invalid callback token"},
		{"bad token", map[string]string{"Nexus-Operation-State": "succeeded", "Temporal-Callback-Token": "nope"}, `"x"`, 400, "invalid callback token"},
		{"bad token version", map[string]string{"Nexus-Operation-State": "succeeded", "Temporal-Callback-Token": `{"v":2,"d":""}`}, `"x"`, 400, "invalid callback token"},
		{"bad token data", map[string]string{"Nexus-Operation-State": "succeeded", "Temporal-Callback-Token": `{"v":1,"d":"!!"}`}, `"x"`, 400, "invalid callback token"},
		{"bad state", map[string]string{"Nexus-Operation-State": "weird"}, `"x"`, 400, `invalid request operation state: "weird"`},
		{"no state", nil, `"x"`, 400, `invalid request operation state: ""`},
		{"failure not JSON", map[string]string{"Nexus-Operation-State": "failed", "Content-Type": "text/plain"}, `oops`, 400, `invalid request content type: "text/plain"`},
		{"failure does not decode", map[string]string{"Nexus-Operation-State": "failed", "Content-Type": "application/json"}, `[1`, 400, "failed to decode Failure from request body"},
		{"bad start time", map[string]string{"Nexus-Operation-State": "succeeded", "Nexus-Operation-Start-Time": "yesterday"}, `"x"`, 400, "failed to parse operation start time header"},
		{"bad link", map[string]string{"Nexus-Operation-State": "succeeded", "Nexus-Link": "nope"}, `"x"`, 400, "failed to decode links from request headers"},
	}
	for _, c := range cases {
		h := map[string]string{}
		for k, v := range jsonType {
			h[k] = v
		}
		for k, v := range c.header {
			h[k] = v
		}
		r := nexusHTTPPost(t, "POST", url, c.body, h)
		var msg any
		if r.status != 200 {
			msg = r.json(t)["message"]
		}
		if r.status != c.status || msg != c.message {
			t.Errorf("%s: %d %s (want %d %q)", c.name, r.status, r.body, c.status, c.message)
		}
	}
}

// An operation backed by a workflow update, started over the HTTP endpoint
// with an outside callback URL, reports its completion to that URL.
func TestNexusHTTPUpdateCompletionCallback(t *testing.T) {
	cfg := append([]string{`callback.allowedAddresses=[{"Pattern":"*","AllowInsecure":true}]`}, updateCallbacksConfig...)
	p, _, svc := startNexusHTTPPair(t, cfg...)
	cb, next := catchCompletions(t)
	p.startUpdatable(t, "updatable-http")
	in, _ := json.Marshal(nexusUpdateInput{WorkflowID: "updatable-http", Value: "by-url"})
	r := nexusHTTPPost(t, "POST", svc+"/update?callback="+url.QueryEscape(cb.URL+"/done"), string(in),
		map[string]string{"Content-Type": "application/json", "Nexus-Request-Id": "req-upd-1", "Nexus-Callback-Caller-Ref": "upd"})
	if r.status != 201 {
		t.Fatalf("update start: %d %s", r.status, r.body)
	}
	if c := next(); c.header.Get("Nexus-Operation-State") != "succeeded" || c.header.Get("Caller-Ref") != "upd" ||
		c.body != `"from pending to by-url"` {
		t.Fatalf("update completion: %v %s", c.header, c.body)
	}
}
