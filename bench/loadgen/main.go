// Command loadgen is a closed-loop load generator for a Temporal-compatible
// server (Kairos or Temporal). It starts an in-process worker, then runs N
// workflows with at most C in flight; each workflow runs one no-op activity
// and returns. It reports throughput, end-to-end latency percentiles, the
// error count and, given -server-pid, the server's CPU time and peak RSS.
//
// Output is one "key: value" line per figure, keys padded so the values line
// up; grep '^workflows_per_sec:' and the like.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// BenchWorkflow runs one no-op activity and returns.
func BenchWorkflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	return workflow.ExecuteActivity(ctx, NoopActivity).Get(ctx, nil)
}

var (
	customerID = temporal.NewSearchAttributeKeyKeyword("CustomerId")
	region     = temporal.NewSearchAttributeKeyKeyword("Region")
	amount     = temporal.NewSearchAttributeKeyInt64("Amount")
)

// registerSearchAttributes adds the three attributes -search-attributes
// sets; already registered is fine.
func registerSearchAttributes(c client.Client, namespace string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace,
		SearchAttributes: map[string]enumspb.IndexedValueType{
			"CustomerId": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			"Region":     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			"Amount":     enumspb.INDEXED_VALUE_TYPE_INT,
		}})
	var exists *serviceerror.AlreadyExists
	if errors.As(err, &exists) {
		return nil
	}
	return err
}

// NoopActivity does nothing.
func NoopActivity(ctx context.Context) error { return nil }

type config struct {
	searchAttributes bool
	address     string
	namespace   string
	workflows   int
	warmup      int
	concurrency int
	taskQueue   string
	serverPID   int
	label       string
	timeout     time.Duration
	wftPollers  int
	actPollers  int
	execSize    int
	sdkLog      string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.address, "address", "127.0.0.1:7233", "server host:port")
	flag.StringVar(&cfg.namespace, "namespace", "default", "namespace")
	flag.IntVar(&cfg.workflows, "workflows", 2000, "workflows in the measured run")
	flag.IntVar(&cfg.warmup, "warmup", 0, "workflows run (same worker, same queue) before the measured run, not counted")
	flag.IntVar(&cfg.concurrency, "concurrency", 100, "workflows in flight at most")
	flag.StringVar(&cfg.taskQueue, "task-queue", "", "task queue (default: bench-<random>)")
	flag.IntVar(&cfg.serverPID, "server-pid", 0, "server PID: report its CPU seconds and peak RSS (Linux /proc)")
	flag.StringVar(&cfg.label, "label", "", "printed as the 'server:' line, if set")
	flag.DurationVar(&cfg.timeout, "timeout", 150*time.Second, "overall bound on warm-up plus measured run; workflows not done by then count as errors")
	flag.IntVar(&cfg.wftPollers, "wft-pollers", 8, "worker MaxConcurrentWorkflowTaskPollers")
	flag.IntVar(&cfg.actPollers, "activity-pollers", 8, "worker MaxConcurrentActivityTaskPollers")
	flag.IntVar(&cfg.execSize, "exec-size", 0, "worker MaxConcurrent{WorkflowTask,Activity}ExecutionSize (default: 2*concurrency, at least 100)")
	flag.BoolVar(&cfg.searchAttributes, "search-attributes", false, "start each workflow with three custom search attributes (CustomerId and Region Keyword, Amount Int), registered first")
	flag.StringVar(&cfg.sdkLog, "sdk-log", "error", "SDK log level forwarded to stderr: debug, info, warn, error, none")
	flag.Parse()
	if cfg.workflows <= 0 || cfg.concurrency <= 0 || cfg.warmup < 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -workflows and -concurrency must be > 0, -warmup >= 0")
		os.Exit(2)
	}
	if cfg.taskQueue == "" {
		cfg.taskQueue = "bench-" + randomTag()
	}
	if cfg.execSize <= 0 {
		cfg.execSize = max(100, 2*cfg.concurrency)
	}
	os.Exit(run(cfg))
}

func run(cfg config) int {
	c, err := dial(cfg, 30*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: cannot connect to %s: %v\n", cfg.address, err)
		return 1
	}
	defer c.Close()

	if cfg.searchAttributes {
		if err := registerSearchAttributes(c, cfg.namespace); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: registering search attributes: %v\n", err)
			return 1
		}
	}

	w := worker.New(c, cfg.taskQueue, worker.Options{
		MaxConcurrentWorkflowTaskPollers:       cfg.wftPollers,
		MaxConcurrentActivityTaskPollers:       cfg.actPollers,
		MaxConcurrentWorkflowTaskExecutionSize: cfg.execSize,
		MaxConcurrentActivityExecutionSize:     cfg.execSize,
	})
	w.RegisterWorkflow(BenchWorkflow)
	w.RegisterActivityWithOptions(NoopActivity, activity.RegisterOptions{Name: "NoopActivity"})
	if err := w.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: worker start: %v\n", err)
		return 1
	}
	defer w.Stop()

	tag := randomTag()
	deadline := time.Now().Add(cfg.timeout) // bounds warm-up and measured run together
	if cfg.warmup > 0 {
		res := runBatch(c, cfg, "warmup-"+tag, cfg.warmup, deadline)
		if res.errors > 0 {
			fmt.Fprintf(os.Stderr, "loadgen: warm-up: %d of %d workflows failed\n", res.errors, cfg.warmup)
			res.printErrors()
		}
	}

	cpu0, cpuErr := procCPUTicks(cfg.serverPID)
	self0 := selfCPU()
	busy0, _ := machineBusyTicks()
	res := runBatch(c, cfg, "run-"+tag, cfg.workflows, deadline)
	cpu1, cpuErr2 := procCPUTicks(cfg.serverPID)
	self1 := selfCPU()
	busy1, busyErr := machineBusyTicks()

	secs := res.elapsed.Seconds()
	var out lines
	if cfg.label != "" {
		out.add("server", cfg.label)
	}
	out.add("address", cfg.address)
	out.add("task_queue", cfg.taskQueue)
	out.add("workflows", strconv.Itoa(cfg.workflows))
	out.add("warmup_workflows", strconv.Itoa(cfg.warmup))
	out.add("concurrency", strconv.Itoa(cfg.concurrency))
	out.add("completed", strconv.Itoa(len(res.latencies)))
	out.add("errors", strconv.Itoa(res.errors))
	out.add("duration_s", fmt.Sprintf("%.2f", secs))
	out.add("workflows_per_sec", fmt.Sprintf("%.1f", float64(len(res.latencies))/secs))
	sort.Slice(res.latencies, func(i, j int) bool { return res.latencies[i] < res.latencies[j] })
	out.add("latency_p50_ms", ms(percentile(res.latencies, 50)))
	out.add("latency_p95_ms", ms(percentile(res.latencies, 95)))
	out.add("latency_p99_ms", ms(percentile(res.latencies, 99)))
	out.add("latency_max_ms", ms(percentile(res.latencies, 100)))
	out.add("latency_mean_ms", ms(mean(res.latencies)))
	out.add("loadgen_cpu_s", fmt.Sprintf("%.2f", (self1-self0).Seconds()))
	machineS := -1.0
	if busyErr == nil {
		machineS = float64(busy1-busy0) / clockTicks()
		out.add("machine_cpu_s", fmt.Sprintf("%.2f", machineS))
	}
	if cfg.serverPID > 0 {
		out.add("server_pid", strconv.Itoa(cfg.serverPID))
		if cpuErr == nil && cpuErr2 == nil {
			hz := clockTicks()
			cpuS := float64(cpu1-cpu0) / hz
			out.add("server_cpu_s", fmt.Sprintf("%.2f", cpuS))
			out.add("server_cpu_pct", fmt.Sprintf("%.0f", 100*cpuS/secs))
			if n := len(res.latencies); n > 0 {
				out.add("server_cpu_ms_per_wf", fmt.Sprintf("%.3f", 1000*cpuS/float64(n)))
			}
			if machineS >= 0 {
				// CPU used by everything else on the machine during the run:
				// a large value means the figures were disturbed.
				out.add("other_cpu_s", fmt.Sprintf("%.2f", max(0, machineS-cpuS-(self1-self0).Seconds())))
			}
		} else {
			out.add("server_cpu_s", "unavailable ("+errors.Join(cpuErr, cpuErr2).Error()+")")
		}
		if hwm, rss, err := procMemKB(cfg.serverPID); err == nil {
			out.add("server_peak_rss_mb", fmt.Sprintf("%.1f", float64(hwm)/1024))
			out.add("server_rss_end_mb", fmt.Sprintf("%.1f", float64(rss)/1024))
		} else {
			out.add("server_peak_rss_mb", "unavailable ("+err.Error()+")")
		}
	}
	out.print()
	if res.errors > 0 {
		res.printErrors()
		return 3
	}
	return 0
}

// dial connects with retries until the deadline (the server may still be starting).
func dial(cfg config, within time.Duration) (client.Client, error) {
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := client.DialContext(ctx, client.Options{
			HostPort:  cfg.address,
			Namespace: cfg.namespace,
			Identity:  fmt.Sprintf("loadgen-%d", os.Getpid()),
			Logger:    newLogger(cfg.sdkLog),
		})
		cancel()
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type batchResult struct {
	latencies []time.Duration
	errors    int
	errMsgs   map[string]int
	elapsed   time.Duration
}

func (r *batchResult) printErrors() {
	type kv struct {
		msg string
		n   int
	}
	var all []kv
	for m, n := range r.errMsgs {
		all = append(all, kv{m, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	for i, e := range all {
		if i == 10 {
			fmt.Fprintf(os.Stderr, "loadgen: ... %d more distinct errors\n", len(all)-i)
			break
		}
		fmt.Fprintf(os.Stderr, "loadgen: error x%d: %s\n", e.n, e.msg)
	}
}

// runBatch runs n workflows with at most cfg.concurrency in flight and
// returns every successful workflow's end-to-end latency (ExecuteWorkflow
// called to Get returned).
func runBatch(c client.Client, cfg config, prefix string, n int, deadline time.Time) batchResult {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var (
		next    atomic.Int64
		mu      sync.Mutex
		res     = batchResult{errMsgs: map[string]int{}, latencies: make([]time.Duration, 0, n)}
		wg      sync.WaitGroup
		workers = min(cfg.concurrency, n)
	)
	start := time.Now()
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if ctx.Err() != nil { // past the deadline: count the rest as not done
					mu.Lock()
					res.errors++
					res.errMsgs["not started: run deadline passed"]++
					mu.Unlock()
					continue
				}
				t0 := time.Now()
				err := oneWorkflow(ctx, c, cfg, fmt.Sprintf("bench-%s-%d", prefix, i))
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					res.errors++
					res.errMsgs[err.Error()]++
				} else {
					res.latencies = append(res.latencies, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func oneWorkflow(ctx context.Context, c client.Client, cfg config, id string) error {
	opts := client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                cfg.taskQueue,
		WorkflowExecutionTimeout: 2 * time.Minute,
	}
	if cfg.searchAttributes {
		n := int64(len(id))
		for _, ch := range id {
			n = n*31 + int64(ch)
		}
		if n < 0 {
			n = -n
		}
		opts.TypedSearchAttributes = temporal.NewSearchAttributes(
			customerID.ValueSet(fmt.Sprintf("c%d", n%5000)),
			region.ValueSet(fmt.Sprintf("r%d", n%10)),
			amount.ValueSet(n%1000))
	}
	run, err := c.ExecuteWorkflow(ctx, opts, BenchWorkflow)
	if err != nil {
		return fmt.Errorf("ExecuteWorkflow: %w", err)
	}
	if err := run.Get(ctx, nil); err != nil {
		return fmt.Errorf("Get: %w", err)
	}
	return nil
}

// ---- /proc readings ----

// procCPUTicks returns utime+stime of pid in clock ticks.
func procCPUTicks(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, errors.New("no pid")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	// The comm field may hold spaces and parentheses: split after the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad utime/stime in /proc stat")
	}
	return ut + st, nil
}

// machineBusyTicks returns the non-idle CPU time of the whole machine
// (user+nice+system+irq+softirq+steal from /proc/stat) in clock ticks.
func machineBusyTicks() (uint64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("malformed /proc/stat")
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, err
		}
		busy += v
	}
	return busy, nil
}

// procMemKB returns VmHWM (peak RSS) and VmRSS of pid in KiB.
func procMemKB(pid int) (hwm, rss uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmHWM:":
			hwm, _ = strconv.ParseUint(f[1], 10, 64)
		case "VmRSS:":
			rss, _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	if hwm == 0 {
		return 0, 0, errors.New("no VmHWM in /proc status")
	}
	return hwm, rss, nil
}

// clockTicks is sysconf(_SC_CLK_TCK), asked of getconf; 100 (Linux's USER_HZ
// everywhere in practice) if that fails.
var clockTicks = sync.OnceValue(func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && v > 0 {
			return float64(v)
		}
	}
	return 100
})

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ---- helpers ----

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// Nearest-rank.
	k := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	k = max(0, min(k, len(sorted)-1))
	return sorted[k]
}

func mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var s time.Duration
	for _, x := range d {
		s += x
	}
	return s / time.Duration(len(d))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func randomTag() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type lines struct{ kv [][2]string }

func (l *lines) add(k, v string) { l.kv = append(l.kv, [2]string{k, v}) }

func (l *lines) print() {
	width := 0
	for _, e := range l.kv {
		width = max(width, len(e[0])+1)
	}
	for _, e := range l.kv {
		fmt.Printf("%-*s %s\n", width, e[0]+":", e[1])
	}
}

// ---- SDK logger: forwards lines at or above a level to stderr ----

type stderrLogger struct{ min int }

var levels = map[string]int{"debug": 0, "info": 1, "warn": 2, "error": 3, "none": 4}

func newLogger(level string) log.Logger {
	l, ok := levels[strings.ToLower(level)]
	if !ok {
		l = 3
	}
	return stderrLogger{min: l}
}

func (s stderrLogger) out(lvl int, name, msg string, kv []interface{}) {
	if lvl < s.min {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", time.Now().Format("15:04:05.000"), name, msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	fmt.Fprintln(os.Stderr, b.String())
}

func (s stderrLogger) Debug(msg string, kv ...interface{}) { s.out(0, "DEBUG", msg, kv) }
func (s stderrLogger) Info(msg string, kv ...interface{})  { s.out(1, "INFO", msg, kv) }
func (s stderrLogger) Warn(msg string, kv ...interface{})  { s.out(2, "WARN", msg, kv) }
func (s stderrLogger) Error(msg string, kv ...interface{}) { s.out(3, "ERROR", msg, kv) }
