// Command scalegen measures Kairos with many open workflows, each sleeping on
// a long durable timer, in a SQLite file: it starts a server itself, plays
// the worker over raw gRPC (each workflow task answered with one command),
// and prints one "key: value" line per figure:
//
//   - fresh_rate_empty / fresh_rate_loaded: workflows per second of a fresh
//     workflow (start, one workflow task that completes it) on the empty
//     server and with all the sleepers open, and their ratio;
//   - create_rate: sleepers created per second (start, and the workflow
//     task that starts their 1-30 day timer);
//   - rss_open_mb: the server's RSS with all of them open;
//   - restart_ms: SIGTERM, then exec of a new server on the same file until
//     its gRPC health check answers SERVING;
//   - timer_lag_p50/p99_ms: lag of timers due within seconds, fired while
//     the sleepers are pending (TimerFired event time minus due time).
//
// With -backlog N it runs the backlog benchmark instead (backlog.go).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	commandpb "go.temporal.io/api/command/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

type config struct {
	bin         string
	workflows   int
	fresh       int
	lagTimers   int
	concurrency int
	pollers     int
	db          string
	serverArgs  string
	backlog     int
}

const taskQueue = "scale"

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "kairos-bin", "build/server/kairos", "Kairos binary")
	flag.IntVar(&cfg.workflows, "workflows", 1_000_000, "open workflows, each sleeping 1-30 days")
	flag.IntVar(&cfg.fresh, "fresh", 5000, "fresh workflows timed on the empty and on the loaded server")
	flag.IntVar(&cfg.lagTimers, "lag-timers", 2000, "timers due within seconds whose lag is measured")
	flag.IntVar(&cfg.concurrency, "concurrency", 64, "starts in flight")
	flag.IntVar(&cfg.pollers, "pollers", 16, "workflow task pollers")
	flag.StringVar(&cfg.db, "db", "", "SQLite file (default: a temporary one)")
	flag.StringVar(&cfg.serverArgs, "server-args", "", "extra server flags, space separated")
	flag.IntVar(&cfg.backlog, "backlog", 0, "instead: queue this many activity tasks with no worker, restart, drain")
	flag.Parse()
	runner := run
	if cfg.backlog > 0 {
		runner = runBacklog
	}
	if err := runner(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "scalegen:", err)
		os.Exit(1)
	}
}

func out(k string, v any) { fmt.Printf("%-24s %v\n", k+":", v) }

type server struct {
	cfg  config
	db   string
	port int
	cmd  *exec.Cmd
	conn *grpc.ClientConn
	svc  workflowservice.WorkflowServiceClient
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start execs the server and returns how long it took to answer SERVING.
func (s *server) start() (time.Duration, error) {
	args := []string{"server", "start-dev", "--headless", "--port", strconv.Itoa(s.port), "--db-filename", s.db,
		"--log-level", "warn"}
	args = append(args, strings.Fields(s.cfg.serverArgs)...)
	s.cmd = exec.Command(s.cfg.bin, args...)
	s.cmd.Stderr = os.Stderr
	began := time.Now()
	if err := s.cmd.Start(); err != nil {
		return 0, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", s.port)
	for {
		if time.Since(began) > 60*time.Second {
			return 0, fmt.Errorf("server not serving after 60 s")
		}
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return 0, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			took := time.Since(began)
			s.conn = conn
			s.svc = workflowservice.NewWorkflowServiceClient(conn)
			return took, nil
		}
		conn.Close()
		time.Sleep(time.Millisecond)
	}
}

func (s *server) stop() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func (s *server) rssMB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}

// The input of every workflow: how long its timer sleeps (0: it completes
// at its first workflow task).
type input struct {
	SleepMs int64 `json:"sleep_ms"`
}

func payloads(v any) *commonpb.Payloads {
	data, _ := json.Marshal(v)
	return &commonpb.Payloads{Payloads: []*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: data}}}
}

func (s *server) startWorkflow(ctx context.Context, id string, sleep time.Duration) error {
	_, err := s.svc.StartWorkflowExecution(ctx, &workflowservice.StartWorkflowExecutionRequest{
		Namespace:    "default",
		WorkflowId:   id,
		WorkflowType: &commonpb.WorkflowType{Name: "Sleeper"},
		TaskQueue:    &taskqueuepb.TaskQueue{Name: taskQueue},
		Input:        payloads(input{SleepMs: sleep.Milliseconds()}),
		RequestId:    id,
	})
	return err
}

// worker answers workflow tasks until ctx ends: a first task starts the
// workflow's timer (or completes it when it sleeps 0); a task after the
// timer fired completes it. `timersStarted` and `completed` count.
type worker struct {
	timersStarted atomic.Int64
	completed     atomic.Int64
}

func (w *worker) run(ctx context.Context, s *server, pollers int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := 0; i < pollers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				task, err := s.svc.PollWorkflowTaskQueue(pctx, &workflowservice.PollWorkflowTaskQueueRequest{
					Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: taskQueue}, Identity: "scalegen"})
				cancel()
				if err != nil || len(task.GetTaskToken()) == 0 {
					continue
				}
				var cmd *commandpb.Command
				var in input
				fired := false
				for _, e := range task.GetHistory().GetEvents() {
					if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil && len(a.GetInput().GetPayloads()) > 0 {
						_ = json.Unmarshal(a.GetInput().GetPayloads()[0].GetData(), &in)
					}
					if e.GetEventType() == enumspb.EVENT_TYPE_TIMER_FIRED {
						fired = true
					}
				}
				if fired || in.SleepMs == 0 {
					cmd = &commandpb.Command{CommandType: enumspb.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
						Attributes: &commandpb.Command_CompleteWorkflowExecutionCommandAttributes{
							CompleteWorkflowExecutionCommandAttributes: &commandpb.CompleteWorkflowExecutionCommandAttributes{}}}
				} else {
					cmd = &commandpb.Command{CommandType: enumspb.COMMAND_TYPE_START_TIMER,
						Attributes: &commandpb.Command_StartTimerCommandAttributes{StartTimerCommandAttributes: &commandpb.StartTimerCommandAttributes{
							TimerId: "1", StartToFireTimeout: durationpb.New(time.Duration(in.SleepMs) * time.Millisecond)}}}
				}
				rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
				_, err = s.svc.RespondWorkflowTaskCompleted(rctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
					Namespace: "default", TaskToken: task.GetTaskToken(), Commands: []*commandpb.Command{cmd}, Identity: "scalegen"})
				rcancel()
				if err != nil {
					fmt.Fprintln(os.Stderr, "respond:", err)
					continue
				}
				if cmd.GetCommandType() == enumspb.COMMAND_TYPE_START_TIMER {
					w.timersStarted.Add(1)
				} else {
					w.completed.Add(1)
				}
			}
		}()
	}
	return &wg
}

// startMany starts n workflows named prefix-i with the given sleeps, at
// most `concurrency` at a time, and waits until `done` reaches target.
func startMany(s *server, concurrency, n int, prefix string, sleep func(i int) time.Duration, done func() int64,
	target int64) (time.Duration, error) {
	began := time.Now()
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for c := 0; c < concurrency; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				err := s.startWorkflow(ctx, fmt.Sprintf("%s-%d", prefix, i), sleep(i))
				cancel()
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	for done() < target {
		if time.Since(began) > 2*time.Hour {
			return 0, fmt.Errorf("%s: only %d of %d done", prefix, done(), target)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(began), nil
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

// startFileServer starts the server on a free port over a fresh SQLite file
// (or -db); stop stops it and removes the file's directory.
func startFileServer(cfg config) (s *server, stop func(), err error) {
	dir, err := os.MkdirTemp("", "scalegen")
	if err != nil {
		return nil, nil, err
	}
	s = &server{cfg: cfg, db: filepath.Join(dir, "kairos.db")}
	if cfg.db != "" {
		s.db = cfg.db
	}
	if s.port, err = freePort(); err == nil {
		_, err = s.start()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	out("server", cfg.bin+" (SQLite file, WAL) "+cfg.serverArgs)
	return s, func() { s.stop(); os.RemoveAll(dir) }, nil
}

func run(cfg config) error {
	s, stop, err := startFileServer(cfg)
	if err != nil {
		return err
	}
	defer stop()
	out("workflows", cfg.workflows)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // On an early error return too; cancelling twice is harmless.
	w := &worker{}
	wg := w.run(ctx, s, cfg.pollers)
	fresh := func(prefix string) (float64, error) {
		base := w.completed.Load()
		took, err := startMany(s, cfg.concurrency, cfg.fresh, prefix, func(int) time.Duration { return 0 },
			w.completed.Load, base+int64(cfg.fresh))
		if err != nil {
			return 0, err
		}
		return float64(cfg.fresh) / took.Seconds(), nil
	}
	emptyRate, err := fresh("fresh-empty")
	if err != nil {
		return err
	}
	out("fresh_rate_empty", fmt.Sprintf("%.1f wf/s", emptyRate))

	rng := rand.New(rand.NewSource(1))
	sleeps := make([]time.Duration, cfg.workflows)
	for i := range sleeps {
		sleeps[i] = 24*time.Hour + time.Duration(rng.Int63n(int64(29*24*time.Hour)))
	}
	took, err := startMany(s, cfg.concurrency, cfg.workflows, "sleeper", func(i int) time.Duration { return sleeps[i] },
		w.timersStarted.Load, int64(cfg.workflows))
	if err != nil {
		return err
	}
	out("create_rate", fmt.Sprintf("%.1f wf/s (%d in %.1f s)", float64(cfg.workflows)/took.Seconds(), cfg.workflows, took.Seconds()))
	out("rss_open_mb", fmt.Sprintf("%.1f", s.rssMB()))

	loadedRate, err := fresh("fresh-loaded")
	if err != nil {
		return err
	}
	out("fresh_rate_loaded", fmt.Sprintf("%.1f wf/s (%.0f%% of empty)", loadedRate, 100*loadedRate/emptyRate))

	// Timers due within seconds while the sleepers are pending.
	lagBase := w.completed.Load()
	lagRng := rand.New(rand.NewSource(2))
	lagSleep := make([]time.Duration, cfg.lagTimers)
	for i := range lagSleep {
		lagSleep[i] = 2*time.Second + time.Duration(lagRng.Int63n(int64(3*time.Second)))
	}
	if _, err := startMany(s, cfg.concurrency, cfg.lagTimers, "due-now", func(i int) time.Duration { return lagSleep[i] },
		w.completed.Load, lagBase+int64(cfg.lagTimers)); err != nil {
		return err
	}
	var lags []float64
	for i := 0; i < cfg.lagTimers; i++ {
		h, err := s.svc.GetWorkflowExecutionHistory(context.Background(), &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace: "default", Execution: &commonpb.WorkflowExecution{WorkflowId: fmt.Sprintf("due-now-%d", i)}})
		if err != nil {
			return err
		}
		var started, fired *historypb.HistoryEvent
		for _, e := range h.GetHistory().GetEvents() {
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_TIMER_STARTED:
				started = e
			case enumspb.EVENT_TYPE_TIMER_FIRED:
				fired = e
			}
		}
		if started == nil || fired == nil {
			return fmt.Errorf("due-now-%d: no timer events", i)
		}
		due := started.GetEventTime().AsTime().Add(started.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration())
		lags = append(lags, float64(fired.GetEventTime().AsTime().Sub(due).Microseconds())/1000)
	}
	sort.Float64s(lags)
	out("timer_lag_p50_ms", fmt.Sprintf("%.1f", percentile(lags, 0.5)))
	out("timer_lag_p99_ms", fmt.Sprintf("%.1f", percentile(lags, 0.99)))
	out("timer_lag_max_ms", fmt.Sprintf("%.1f", lags[len(lags)-1]))

	cancel()
	wg.Wait()
	s.stop()
	restart, err := s.start()
	if err != nil {
		return err
	}
	out("restart_ms", fmt.Sprintf("%.1f", float64(restart.Microseconds())/1000))
	time.Sleep(2 * time.Second) // let the first timer pages settle before reading RSS
	out("rss_after_restart_mb", fmt.Sprintf("%.1f", s.rssMB()))
	if st, err := os.Stat(s.db); err == nil {
		out("db_mb", fmt.Sprintf("%.0f", float64(st.Size())/(1<<20)))
	}
	return nil
}
