package childproc_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/proofd/proofd/internal/childproc"
)

// helperEnv makes the re-executed test binary start `sleep` through
// childproc, print its pid and wait to be killed.
const helperEnv = "CHILDPROC_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		p, err := childproc.Start(exec.Command("sleep", "300"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(p.Pid())
		<-p.Exited()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// gone reports whether pid has exited; a zombie has, whoever reaps it.
func gone(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) == 0 || f[0] == "Z" || f[0] == "X"
}

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !gone(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still running", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartInOwnGroupAndKill(t *testing.T) {
	p, err := childproc.Start(exec.Command("sleep", "300"))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(p.Pid(), syscall.SIGKILL) // if it is not in its own group
	pgid, err := syscall.Getpgid(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if pgid != p.Pid() {
		t.Errorf("child's process group = %d, want its own (%d)", pgid, p.Pid())
	}
	p.Kill()
	<-p.Exited()
	if p.Err() == nil || !strings.Contains(p.Err().Error(), "killed") {
		t.Errorf("Err = %v, want killed", p.Err())
	}
}

func TestStartFailure(t *testing.T) {
	if _, err := childproc.Start(exec.Command("/nonexistent/engine")); err == nil {
		t.Fatal("start of a missing binary succeeded")
	}
}

func TestKillAfterLeaderExited(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 300 </dev/null >/dev/null 2>&1 & echo $!")
	var out bytes.Buffer
	cmd.Stdout = &out
	p, err := childproc.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Exited()
	pid, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("grandchild pid %q: %v", out.String(), err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	p.Kill()
	waitGone(t, pid, "grandchild")
}

func TestExitedWhileGrandchildHoldsStdout(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 300 & exit 3")
	cmd.Stdout = &bytes.Buffer{} // not a file: Wait copies it until every writer is gone
	p, err := childproc.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Kill()
		<-p.Exited()
	}()
	select {
	case <-p.Exited():
	case <-time.After(childproc.WaitDelay + 30*time.Second):
		t.Fatal("child not reaped while its grandchild holds stdout")
	}
	if p.Err() == nil || !strings.Contains(p.Err().Error(), "exit status 3") {
		t.Errorf("Err = %v, want exit status 3", p.Err())
	}
}

// A child dies with the process that started it, even by SIGKILL.
func TestChildDiesWithParent(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(exe)
	parent.Env = append(os.Environ(), helperEnv+"=1")
	stdout, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		parent.Process.Kill()
		parent.Wait()
		t.Fatalf("helper's child pid: %v", err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(line))
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
	parent.Process.Kill()
	parent.Wait()
	waitGone(t, child, "child of a killed parent")
}
