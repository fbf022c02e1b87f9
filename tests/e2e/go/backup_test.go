package e2e

// `kairos backup` under load: a copy taken while workflows start and run
// opens on a new server, and every workflow acknowledged before the backup
// began is in it (and runs on to completion there).

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

func TestBackupOfLiveServerRestores(t *testing.T) {
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	const tq = "backup-tq"
	startWorker(t, c, tq, func(r worker.Registry) {
		r.RegisterWorkflow(Greet)
		r.RegisterActivity(&greetingActivities{})
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var acked []string
	enough := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := "backup-" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
				if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tq}, Greet, id); err != nil {
					t.Errorf("start %s: %v", id, err)
					return
				}
				mu.Lock()
				acked = append(acked, id)
				if len(acked) == 200 {
					close(enough)
				}
				mu.Unlock()
			}
		}(g)
	}
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatal("load did not reach 200 workflows")
	}
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()

	copyPath := filepath.Join(t.TempDir(), "copy.db")
	out, err := exec.Command(kairosBinary(t), "backup", "--db-filename", srv.dbFile, "--to", copyPath).CombinedOutput()
	if err != nil {
		t.Fatalf("kairos backup: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	mu.Lock()
	during := len(acked) - len(before)
	mu.Unlock()
	close(stop)
	wg.Wait()
	t.Logf("%d workflows acknowledged before the backup, %d while it ran", len(before), during)

	restored := startServer(t, serverOptions{DBFile: copyPath})
	rc := newClient(t, restored.Addr(), "default")
	for _, id := range before {
		if _, err := rc.DescribeWorkflowExecution(ctx, id, ""); err != nil {
			t.Fatalf("workflow %s acknowledged before the backup is missing from the copy: %v", id, err)
		}
	}
	// The copy is a working database: a worker finishes what was running.
	startWorker(t, rc, tq, func(r worker.Registry) {
		r.RegisterWorkflow(Greet)
		r.RegisterActivity(&greetingActivities{})
	})
	for _, id := range []string{before[0], before[len(before)-1]} {
		var greeting string
		if err := rc.GetWorkflow(ctx, id, "").Get(ctx, &greeting); err != nil || greeting == "" {
			t.Fatalf("workflow %s on the restored server: %q, %v", id, greeting, err)
		}
	}
}
