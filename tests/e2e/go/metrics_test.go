package e2e

// Prometheus metrics on --metrics-port: after a known workload, /metrics is
// parsed with Prometheus's own Python parser and the counts are asserted.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

type metricSample struct {
	Family string            `json:"family"`
	Type   string            `json:"type"`
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
}

// scrapeMetrics fetches /metrics and parses it with prometheus_client.
func scrapeMetrics(t *testing.T, port int) []metricSample {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	cmd := exec.Command("/usr/bin/python3", "testdata/parse_metrics.py")
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("prometheus_client rejected the exposition: %v\n%s", err, stderr.String())
	}
	var samples []metricSample
	if err := json.Unmarshal(out, &samples); err != nil {
		t.Fatalf("parser output: %v", err)
	}
	return samples
}

// metricValue sums the samples named `name` whose labels include `want`.
func metricValue(samples []metricSample, name string, want map[string]string) (float64, bool) {
	sum, found := 0.0, false
outer:
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		for k, v := range want {
			if s.Labels[k] != v {
				continue outer
			}
		}
		sum += s.Value
		found = true
	}
	return sum, found
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestMetricsAfterKnownWorkload(t *testing.T) {
	metricsPort := freePort(t)
	srv := startServer(t, serverOptions{ExtraArgs: []string{"--metrics-port", strconv.Itoa(metricsPort)}})
	base := "http://127.0.0.1:" + strconv.Itoa(metricsPort)
	if got := httpStatus(t, base+"/healthz"); got != 200 {
		t.Errorf("/healthz: %d", got)
	}
	if got := httpStatus(t, base+"/readyz"); got != 200 {
		t.Errorf("/readyz: %d", got)
	}

	c := newClient(t, srv.Addr(), "default")
	const tq = "metrics-tq"
	// Activities through polls (not eager), so that poll_success counts them.
	w := worker.New(c, tq, worker.Options{DisableEagerActivities: true})
	w.RegisterWorkflow(Greet)
	w.RegisterWorkflow(AwaitFinish)
	w.RegisterActivity(&greetingActivities{})
	if err := w.Start(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	t.Cleanup(w.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "metrics-greet-" + strconv.Itoa(i), TaskQueue: tq}, Greet, "metrics")
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		var out string
		if err := run.Get(ctx, &out); err != nil {
			t.Fatalf("result: %v", err)
		}
	}
	// A second start of a running workflow id is refused by the server (the
	// SDK then returns the running run).
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "metrics-await", TaskQueue: tq}, AwaitFinish); err != nil {
		t.Fatalf("start: %v", err)
	}
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "metrics-await", TaskQueue: tq}, AwaitFinish); err != nil {
		t.Fatalf("second start: %v", err)
	}
	if err := c.TerminateWorkflow(ctx, "metrics-await", "", "done"); err != nil {
		t.Fatalf("terminate: %v", err)
	}

	samples := scrapeMetrics(t, metricsPort)
	expect := func(name string, labels map[string]string, want float64) {
		t.Helper()
		got, ok := metricValue(samples, name, labels)
		if (!ok && want != 0) || got != want { // A series never touched is absent.
			t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
		}
	}
	atLeast := func(name string, labels map[string]string, min float64) {
		t.Helper()
		got, ok := metricValue(samples, name, labels)
		if !ok || got < min {
			t.Errorf("%s%v = %v (present %v), want at least %v", name, labels, got, ok, min)
		}
	}
	wf := map[string]string{"namespace": "default", "taskqueue": tq, "workflowType": "Greet",
		"operation": "CompletionStats", "service_name": "history"}
	expect("workflow_success_total", wf, 3)
	expect("workflow_terminate_total", map[string]string{"namespace": "default", "workflowType": "AwaitFinish"}, 1)
	expect("workflow_failed_total", map[string]string{"namespace": "default"}, 0)

	start := map[string]string{"namespace": "default", "operation": "StartWorkflowExecution", "service_name": "frontend"}
	expect("service_requests_total", start, 5)
	expect("service_latency_count", start, 5)
	expect("service_error_with_type_total", map[string]string{"operation": "StartWorkflowExecution",
		"error_type": "serviceerror_WorkflowExecutionAlreadyStarted", "namespace": "default"}, 1)
	expect("service_errors_total", start, 0)
	expect("service_requests_total", map[string]string{"operation": "TerminateWorkflowExecution"}, 1)
	expect("service_pending_requests", start, 0)

	activity := map[string]string{"namespace": "default", "taskqueue": tq, "task_type": "Activity", "service_name": "matching"}
	expect("poll_success_total", activity, 3)
	atLeast("poll_success_total", map[string]string{"taskqueue": tq, "task_type": "Workflow"}, 4)
	expect("approximate_backlog_count", activity, 0)

	// Activity outcomes and latencies, as Temporal's history labels them.
	done := map[string]string{"namespace": "default", "taskqueue": tq, "workflowType": "Greet",
		"activityType": "ComposeGreeting", "operation": "RespondActivityTaskCompleted", "service_name": "history",
		"versioning_behavior": "Unspecified"}
	expect("activity_success_total", done, 3)
	expect("activity_start_to_close_latency_count", done, 3)
	expect("activity_schedule_to_close_latency_count", done, 3)
	expect("activity_task_fail_total", map[string]string{"namespace": "default"}, 0)
	expect("task_schedule_to_start_latency_count", map[string]string{"namespace": "default", "taskqueue": tq,
		"task_type": "Activity", "operation": "RecordActivityTaskStarted", "partition": "__normal__",
		"service_name": "history"}, 3)
	atLeast("task_schedule_to_start_latency_count", map[string]string{"namespace": "default", "taskqueue": tq,
		"task_type": "Workflow", "operation": "RecordWorkflowTaskStarted", "service_name": "history"}, 4)

	expect("history_count_count", map[string]string{"namespace": "default"}, 4)
	commit := map[string]string{"operation": "Commit", "service_name": "history"}
	atLeast("persistence_requests_total", commit, 10)
	atLeast("persistence_latency_count", commit, 10)
	expect("persistence_errors_total", commit, 0)
	atLeast("kairos_store_commit_batch_size_count", nil, 10)
	atLeast("kairos_store_commit_latency_count", nil, 10)
	atLeast("process_resident_memory_bytes", nil, 1<<20)
	atLeast("process_cpu_seconds_total", nil, 0.001)
}
