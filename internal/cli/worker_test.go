package cli_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/queue/natsq/natsserver"
)

// The worker command: a configuration error names every key at fault and
// never shows a password; a worker on a real server starts, and SIGTERM
// drains it to exit 0.
func TestWorkerCommand(t *testing.T) {
	r := proofd(t, "worker", "--nats", "nats://u:hunter2@127.0.0.1:1", "--engines", "0", "--classes", "a.b", "--metrics-addr", "0.0.0.0:9", "--check")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"engines", `class "a.b"`, "metrics-addr", "not loopback"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error lacks %q:\n%s", want, r.stderr)
		}
	}
	ok := mustRun(t, "worker", "--nats", "nats://u:hunter2@127.0.0.1:1", "--check")
	if strings.Contains(ok.stdout+ok.stderr, "hunter2") || !strings.Contains(ok.stdout, "REDACTED") {
		t.Fatalf("the effective configuration shows the password or does not redact it:\n%s", ok.stdout)
	}

	srv, err := natsserver.Start(t.TempDir(), natsserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	cmd := exec.Command(enginetest.Proofd(t), "worker", "--nats", srv.URL(), "--engines", "1", "--cache-dir", filepath.Join(t.TempDir(), "cache"),
		"--drain-grace", "1s", "--name", "test-worker")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer // written by the reader below, read only after done
	pulling := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "worker pulling jobs") {
				close(pulling)
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case <-pulling:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the worker did not start pulling:\n%s", logs.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("the worker still runs 15 s after SIGTERM")
	}
}
