// Command visgen measures visibility at scale on a Kairos server it starts
// itself (a fresh SQLite file): it fills the server with closed and running
// workflows that carry three custom search attributes, then times filtered
// lists (first page) and counts, and compares the server's CPU per workflow
// with and without search attributes.
//
// Output is one "key: value" line per figure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

type config struct {
	bin         string
	closed      int
	running     int
	concurrency int
	overhead    int
	repeats     int
	db          string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "kairos-bin", "build/server/kairos", "Kairos binary")
	flag.IntVar(&cfg.closed, "closed", 200000, "closed workflows to create")
	flag.IntVar(&cfg.running, "running", 10000, "running workflows to create")
	flag.IntVar(&cfg.concurrency, "concurrency", 32, "requests in flight while filling")
	flag.IntVar(&cfg.overhead, "overhead", 5000, "workflows per side of the search-attribute CPU comparison")
	flag.IntVar(&cfg.repeats, "repeats", 20, "timed repetitions of each query")
	flag.StringVar(&cfg.db, "db", "", "SQLite file to fill and keep (default: a temporary one)")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "visgen:", err)
		os.Exit(1)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func run(cfg config) error {
	dir, err := os.MkdirTemp("", "visgen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return err
	}
	db := filepath.Join(dir, "kairos.db")
	if cfg.db != "" {
		db = cfg.db
	}
	cmd := exec.Command(cfg.bin, "server", "start-dev", "--headless", "--port", strconv.Itoa(port),
		"--db-filename", db, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	svc := workflowservice.NewWorkflowServiceClient(conn)
	ops := operatorservice.NewOperatorServiceClient(conn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: "default",
			SearchAttributes: map[string]enumspb.IndexedValueType{
				"CustomerId": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
				"Amount":     enumspb.INDEXED_VALUE_TYPE_INT,
				"Region":     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			}})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := func(k string, v any) { fmt.Printf("%-34s %v\n", k+":", v) }
	out("server", cfg.bin+" (SQLite file, WAL)")
	out("closed_workflows", cfg.closed)
	out("running_workflows", cfg.running)

	start := time.Now()
	cpu0 := cpuSeconds(cmd.Process.Pid)
	if err := fill(svc, cfg, "fill", cfg.closed+cfg.running, cfg.closed, true); err != nil {
		return err
	}
	fillCPU := cpuSeconds(cmd.Process.Pid) - cpu0
	out("fill_seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	out("fill_server_cpu_ms_per_workflow", fmt.Sprintf("%.3f", 1000*fillCPU/float64(cfg.closed+cfg.running)))
	if fi, err := os.Stat(db); err == nil {
		out("db_file_mb", fmt.Sprintf("%.0f", float64(fi.Size())/1e6))
	}

	queries := []struct{ kind, query string }{
		{"list", "CustomerId = 'c42'"},
		{"list", "CustomerId = 'c42' AND ExecutionStatus = 'Running'"},
		{"list", "Region = 'r3' AND Amount > 990"},
		{"list", "ExecutionStatus = 'Running' AND Region = 'r7'"},
		{"list", "WorkflowId = 'fill-123456'"},
		{"list", ""},
		{"count", "CustomerId = 'c42'"},
		{"count", "ExecutionStatus = 'Running'"},
		{"count", "Amount BETWEEN 100 AND 110"},
		{"count", "Region = 'r3' AND ExecutionStatus = 'Terminated'"},
		{"count", "GROUP BY ExecutionStatus"},
		{"count", ""},
	}
	for _, q := range queries {
		var times []time.Duration
		var n int64
		for i := 0; i < cfg.repeats; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			t0 := time.Now()
			if q.kind == "list" {
				resp, err := svc.ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{
					Namespace: "default", Query: q.query, PageSize: 100})
				if err != nil {
					cancel()
					return fmt.Errorf("list %q: %w", q.query, err)
				}
				n = int64(len(resp.GetExecutions()))
			} else {
				resp, err := svc.CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
					Namespace: "default", Query: q.query})
				if err != nil {
					cancel()
					return fmt.Errorf("count %q: %w", q.query, err)
				}
				n = resp.GetCount()
			}
			times = append(times, time.Since(t0))
			cancel()
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		label := q.query
		if label == "" {
			label = "(all)"
		}
		fmt.Printf("%-5s p50 %6.2f ms  p95 %6.2f ms  result %-6d %s\n", q.kind,
			ms(times[len(times)/2]), ms(times[len(times)*95/100]), n, label)
	}

	// Search-attribute cost: the same start+terminate with and without them.
	for _, withSA := range []bool{false, true} {
		prefix := fmt.Sprintf("plain-%v", withSA)
		c0 := cpuSeconds(cmd.Process.Pid)
		if err := fill(svc, cfg, prefix, cfg.overhead, cfg.overhead, withSA); err != nil {
			return err
		}
		c1 := cpuSeconds(cmd.Process.Pid)
		out(fmt.Sprintf("server_cpu_ms_per_workflow_sa_%v", withSA), fmt.Sprintf("%.3f", 1000*(c1-c0)/float64(cfg.overhead)))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// fill starts n workflows (no worker: they stay open) and terminates the
// first `closed` of them.
func fill(svc workflowservice.WorkflowServiceClient, cfg config, prefix string, n, closed int, withSA bool) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < cfg.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := one(svc, prefix, i, i < closed, withSA); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func keyword(s string) *commonpb.Payload {
	return &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(strconv.Quote(s))}
}

func one(svc workflowservice.WorkflowServiceClient, prefix string, i int, close, withSA bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := fmt.Sprintf("%s-%d", prefix, i)
	req := &workflowservice.StartWorkflowExecutionRequest{
		Namespace: "default", WorkflowId: id, WorkflowType: &commonpb.WorkflowType{Name: "BenchVisibility"},
		TaskQueue: &taskqueuepb.TaskQueue{Name: "bench-visibility"}, RequestId: id,
	}
	if withSA {
		req.SearchAttributes = &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{
			"CustomerId": keyword(fmt.Sprintf("c%d", i%5000)),
			"Region":     keyword(fmt.Sprintf("r%d", i%10)),
			"Amount":     {Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(strconv.Itoa(i % 1000))},
		}}
	}
	if _, err := svc.StartWorkflowExecution(ctx, req); err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	if !close {
		return nil
	}
	_, err := svc.TerminateWorkflowExecution(ctx, &workflowservice.TerminateWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id}, Reason: "bench"})
	if err != nil {
		return fmt.Errorf("terminate %s: %w", id, err)
	}
	return nil
}

// cpuSeconds is the process's user+system CPU time from /proc.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	k, err2 := strconv.ParseFloat(f[12], 64)
	if errors.Join(err1, err2) != nil {
		return 0
	}
	return (u + k) / 100 // USER_HZ
}
