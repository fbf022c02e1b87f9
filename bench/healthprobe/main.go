// Command healthprobe measures how long a server takes from exec to its first
// SERVING answer to grpc.health.v1.Health/Check, as a client sees it.
//
//	healthprobe [-repeat 20] [-service S] [-ip 127.0.0.1] -- CMD ARGS...
//
// In CMD ARGS, {port} is replaced by a free TCP port and {dir} by a fresh
// empty temp directory, new for every repetition. The clock starts right
// before the fork/exec of CMD and stops when a Check answers SERVING. Between
// tries the probe sleeps at most -interval (default 500µs); every try is a
// new connection (no gRPC reconnect backoff). After each sample the server is
// sent SIGTERM (SIGKILL after -stop-timeout) and waited for.
//
// Without CMD it probes -address until SERVING and reports how long that took
// (run.sh uses this to wait for a server it started). -free-port prints a
// free port and exits.
//
// Output: one "sample_ms:" line per repetition, then min/median/max/mean as
// "key: value" lines.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	repeat := flag.Int("repeat", 1, "repetitions (each a fresh process, port and {dir})")
	service := flag.String("service", "temporal.api.workflowservice.v1.WorkflowService", "service name sent in HealthCheckRequest")
	ip := flag.String("ip", "127.0.0.1", "address the server listens on ({port} is a free port on it)")
	address := flag.String("address", "", "probe only this host:port (no CMD)")
	interval := flag.Duration("interval", 500*time.Microsecond, "sleep between tries (at most 1ms for the benchmark)")
	timeout := flag.Duration("timeout", 60*time.Second, "give up on one start after this long")
	stopTimeout := flag.Duration("stop-timeout", 15*time.Second, "SIGKILL the server if it has not exited this long after SIGTERM")
	logPath := flag.String("log", "", "append the server's stdout/stderr to this file (default: discarded)")
	label := flag.String("label", "", "printed as the 'server:' line, if set")
	printPort := flag.Bool("free-port", false, "print a free TCP port on -ip and exit")
	flag.Parse()
	args := flag.Args()

	if *printPort {
		p, err := freePort(*ip)
		if err != nil {
			fmt.Fprintf(os.Stderr, "healthprobe: %v\n", err)
			os.Exit(1)
		}
		fmt.Println(p)
		return
	}

	if len(args) == 0 {
		if *address == "" {
			fmt.Fprintln(os.Stderr, "healthprobe: give -address or a command after --")
			os.Exit(2)
		}
		t0 := time.Now()
		tries, err := waitServing(*address, *service, *interval, t0.Add(*timeout), nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "healthprobe: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("serving_after_ms: %.1f\ntries: %d\n", msf(time.Since(t0)), tries)
		return
	}

	stopOnSignal()

	var logFile *os.File
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "healthprobe: %v\n", err)
			os.Exit(1)
		}
		defer f.Close()
		logFile = f
	}

	var samples, stops []time.Duration
	failures := 0
	for i := 0; i < *repeat; i++ {
		d, stop, err := oneStart(args, *ip, *service, *interval, *timeout, *stopTimeout, logFile)
		if err != nil {
			failures++
			fmt.Fprintf(os.Stderr, "healthprobe: run %d: %v\n", i+1, err)
			continue
		}
		samples = append(samples, d)
		stops = append(stops, stop)
		fmt.Printf("sample_ms: %.1f\n", msf(d))
	}
	var out [][2]string
	if *label != "" {
		out = append(out, [2]string{"server", *label})
	}
	out = append(out, [2]string{"runs", strconv.Itoa(len(samples))}, [2]string{"failures", strconv.Itoa(failures)})
	if len(samples) > 0 {
		sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
		sort.Slice(stops, func(i, j int) bool { return stops[i] < stops[j] })
		out = append(out,
			[2]string{"startup_min_ms", fmt.Sprintf("%.1f", msf(samples[0]))},
			[2]string{"startup_median_ms", fmt.Sprintf("%.1f", msf(median(samples)))},
			[2]string{"startup_max_ms", fmt.Sprintf("%.1f", msf(samples[len(samples)-1]))},
			[2]string{"startup_mean_ms", fmt.Sprintf("%.1f", msf(mean(samples)))},
			[2]string{"stop_median_ms", fmt.Sprintf("%.1f", msf(median(stops)))},
		)
	}
	width := 0
	for _, e := range out {
		width = max(width, len(e[0])+1)
	}
	for _, e := range out {
		fmt.Printf("%-*s %s\n", width, e[0]+":", e[1])
	}
	if failures > 0 {
		os.Exit(1)
	}
}

// oneStart execs the server once and returns exec→SERVING and SIGTERM→exit times.
func oneStart(args []string, ip, service string, interval, timeout, stopTimeout time.Duration, logFile *os.File) (time.Duration, time.Duration, error) {
	port, err := freePort(ip)
	if err != nil {
		return 0, 0, err
	}
	dir, err := os.MkdirTemp("", "healthprobe-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	runningDir.Store(dir)
	argv := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, "{port}", strconv.Itoa(port))
		argv[i] = strings.ReplaceAll(a, "{dir}", dir)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if logFile != nil {
		cmd.Stdout, cmd.Stderr = logFile, logFile
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	exited := make(chan error, 1)

	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	running.Store(int64(cmd.Process.Pid))
	defer running.Store(0)
	go func() { exited <- cmd.Wait() }()
	_, err = waitServing(fmt.Sprintf("%s:%d", ip, port), service, interval, t0.Add(timeout), exited)
	d := time.Since(t0)

	// Stop: SIGTERM to the process group, SIGKILL after stopTimeout.
	s0 := time.Now()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if err == nil {
			err = fmt.Errorf("server did not exit within %v of SIGTERM (killed)", stopTimeout)
		}
	}
	stop := time.Since(s0)
	// Reap anything left in the group (e.g. helper children).
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return d, stop, err
}

// running is the pid (and process group) of the server being measured, or 0;
// runningDir is its {dir}, removed if a signal ends the probe.
var (
	running    atomic.Int64
	runningDir atomic.Value
)

// stopOnSignal makes SIGINT/SIGTERM stop the server being measured (SIGTERM,
// SIGKILL after 5 s) before the probe exits, so no server is left behind.
func stopOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ch
		if pid := int(running.Load()); pid > 0 {
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if running.Load() == 0 || syscall.Kill(pid, 0) != nil {
					break
				}
			}
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		if d, _ := runningDir.Load().(string); d != "" {
			_ = os.RemoveAll(d)
		}
		os.Exit(130)
	}()
}

// waitServing retries Health/Check on a fresh connection until SERVING.
func waitServing(addr, service string, interval time.Duration, deadline time.Time, exited <-chan error) (int, error) {
	tries := 0
	var last error
	for {
		tries++
		ok, err := checkOnce(addr, service)
		if ok {
			return tries, nil
		}
		last = err
		if exited != nil {
			select {
			case werr := <-exited:
				return tries, fmt.Errorf("server exited before serving: %v", werr)
			default:
			}
		}
		if time.Now().After(deadline) {
			return tries, fmt.Errorf("not SERVING by the deadline (%d tries): %v", tries, last)
		}
		time.Sleep(interval)
	}
}

func checkOnce(addr, service string) (bool, error) {
	// A plain TCP connect first: refused costs microseconds, and spares a
	// gRPC channel set-up per try while nothing listens yet.
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false, err
	}
	c.Close()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return false, err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return false, errors.New("status " + resp.GetStatus().String())
	}
	return true, nil
}

func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func median(s []time.Duration) time.Duration {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func mean(s []time.Duration) time.Duration {
	var t time.Duration
	for _, x := range s {
		t += x
	}
	return t / time.Duration(len(s))
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
