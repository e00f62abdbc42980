package netns_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/proofd/proofd/internal/netns"
)

// helperEnv makes the re-executed test binary a network helper:
// "listen ADDR" echoes lines on ADDR (port 0 picks one and prints it),
// "dial ADDR" sends one line to ADDR and prints the answer.
const helperEnv = "PROOFD_NETNS_TEST_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		if err := helper(strings.Fields(h)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func helper(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("helper %q: want listen|dial ADDR", args)
	}
	switch args[0] {
	case "listen":
		ln, err := net.Listen("tcp", args[1])
		if err != nil {
			return err
		}
		fmt.Println(ln.Addr())
		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			fmt.Fprintf(c, "echo %s", line)
			c.Close()
		}
	case "dial":
		c, err := net.DialTimeout("tcp", args[1], time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintln(c, "hello")
		line, err := bufio.NewReader(c).ReadString('\n')
		fmt.Print(line)
		return err
	}
	return fmt.Errorf("helper %q: want listen|dial ADDR", args)
}

// listen starts an echo server in h and returns its address.
func listen(t *testing.T, h *netns.Host) string {
	t.Helper()
	cmd := h.Command(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=listen "+h.Addr+":0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("listener in %s: %v", h.Name, err)
	}
	return strings.TrimSpace(addr)
}

// dial has h send a line to addr and checks the echo.
func dial(t *testing.T, h *netns.Host, addr string) error {
	t.Helper()
	cmd := h.Command(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=dial "+addr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s dialing %s: %w: %s", h.Name, addr, err, strings.TrimSpace(string(out)))
	}
	if got, want := string(out), "echo hello\n"; got != want {
		t.Fatalf("%s dialing %s got %q, want %q", h.Name, addr, got, want)
	}
	return nil
}

func mustDial(t *testing.T, h *netns.Host, addr string) {
	t.Helper()
	if err := dial(t, h, addr); err != nil {
		t.Error(err)
	}
}

func mustNotDial(t *testing.T, h *netns.Host, addr string) {
	t.Helper()
	if err := dial(t, h, addr); err == nil {
		t.Errorf("%s reached %s, want cut off", h.Name, addr)
	}
}

func ipOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// rootLinks lists the names of the links in the test's own namespace.
func rootLinks(t *testing.T) []string {
	var names []string
	for line := range strings.Lines(ipOut(t, "-o", "link")) {
		if f := strings.Fields(line); len(f) > 1 {
			names = append(names, f[1])
		}
	}
	return names
}

// namespaces lists the named network namespaces.
func namespaces(t *testing.T) []string {
	var names []string
	for line := range strings.Lines(ipOut(t, "netns", "list")) {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func TestCutAndRestore(t *testing.T) {
	netns.Require(t)
	before := rootLinks(t)
	var made []string
	var cleanupStart time.Time
	t.Run("net", func(t *testing.T) {
		start := time.Now()
		n := netns.New(t, 3)
		t.Logf("New(3) took %v", time.Since(start))
		t.Cleanup(func() { cleanupStart = time.Now() })
		made = append(made, n.Switch)
		for _, h := range n.Hosts {
			made = append(made, h.Name)
		}
		if got := rootLinks(t); !slices.Equal(got, before) {
			t.Errorf("links in the root namespace = %v, want %v as before New", got, before)
		}
		h0, h1, h2 := n.Hosts[0], n.Hosts[1], n.Hosts[2]
		addr := listen(t, h0)
		mustDial(t, h1, addr)
		mustDial(t, h2, addr)

		if err := h1.Cut(); err != nil {
			t.Fatal(err)
		}
		mustNotDial(t, h1, addr)
		mustDial(t, h2, addr)
		if err := h1.Restore(); err != nil {
			t.Fatal(err)
		}
		mustDial(t, h1, addr)

		if err := h0.Cut(); err != nil {
			t.Fatal(err)
		}
		mustNotDial(t, h1, addr)
		start = time.Now()
		if err := h0.Restore(); err != nil {
			t.Fatal(err)
		}
		t.Logf("Restore took %v", time.Since(start))
		mustDial(t, h1, addr)
		mustDial(t, h2, addr)
	})
	t.Logf("cleanup took %v", time.Since(cleanupStart))
	for _, name := range namespaces(t) {
		if slices.Contains(made, name) {
			t.Errorf("namespace %s still there after cleanup", name)
		}
	}
	if got := rootLinks(t); !slices.Equal(got, before) {
		t.Errorf("links in the root namespace after cleanup = %v, want %v", got, before)
	}
}

func TestCleanupSweepsDeadRuns(t *testing.T) {
	netns.Require(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	left := fmt.Sprintf("pd%d-1-h0", dead.Process.Pid)
	ipOut(t, "netns", "add", left)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", left).Run() })
	t.Run("net", func(t *testing.T) { netns.New(t, 1) })
	if slices.Contains(namespaces(t), left) {
		t.Errorf("namespace %s of a dead run still there after cleanup", left)
	}
}
