package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns "namespaces are not
// available here" from a skip into a test failure.
const RequireEnv = "PROOFD_REQUIRE_NETNS"

const (
	dev    = "eth0" // a host's link
	bridge = "br0"  // the switch's bridge
)

// upTimeout bounds how long Restore waits for a link to come up.
const upTimeout = 5 * time.Second

// Net is a set of hosts joined by one switch.
type Net struct {
	Hosts  []*Host
	Switch string // the switch's namespace

	made []string // namespaces New made, in order
}

// Host is one network namespace with one address.
type Host struct {
	Name string // the namespace
	Addr string // its IPv4 address, "10.R.0.i"

	sw   string // the switch's namespace
	port string // the veth's end on the bridge
}

var (
	counter atomic.Int32

	availOnce sync.Once
	availWhy  string // empty when namespaces can be made
)

// Available reports whether namespaces, veths and bridges can be made here,
// and why not. It tries once per process.
func Available() (ok bool, why string) {
	availOnce.Do(func() { availWhy = probe() })
	return availWhy == "", availWhy
}

func probe() string {
	if ipPath() == "" {
		return "no ip command (iproute2) in /usr/sbin or PATH"
	}
	name := fmt.Sprintf("pd%d-probe", os.Getpid())
	if _, err := ip("netns", "add", name); err != nil {
		if os.Geteuid() != 0 {
			return fmt.Sprintf("not root: %v", err)
		}
		return err.Error()
	}
	defer ip("netns", "del", name)
	if _, err := ip("-n", name, "link", "add", bridge, "type", "bridge"); err != nil {
		return err.Error()
	}
	if _, err := ip("-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1"); err != nil {
		return err.Error()
	}
	return ""
}

// Require skips t, saying why, where namespaces cannot be made, or fails it
// when RequireEnv is "1".
func Require(t testing.TB) {
	t.Helper()
	ok, why := Available()
	switch {
	case ok:
	case os.Getenv(RequireEnv) == "1":
		t.Fatalf("netns: network namespaces are required (%s=1) but cannot be made here: %s", RequireEnv, why)
	default:
		t.Skipf("netns: network namespaces cannot be made here (%s); set %s=1 to fail instead", why, RequireEnv)
	}
}

// New makes n hosts on one switch, Hosts[i] named "pd<pid>-<c>-h<i>" at
// 10.R.0.<i+1>, and deletes them when t's cleanup runs. It calls Require
// first.
func New(t testing.TB, n int) *Net {
	t.Helper()
	Require(t)
	if n < 1 || n > 250 {
		t.Fatalf("netns: New with %d hosts, want 1 to 250", n)
	}
	pid, c := os.Getpid(), int(counter.Add(1))
	nt := plan(fmt.Sprintf("pd%d-%d-", pid, c), (pid+c)%250+1, n)
	t.Cleanup(func() {
		if err := nt.close(t); err != nil {
			t.Error(err)
		}
	})
	if err := nt.setup(); err != nil {
		t.Fatal(err)
	}
	return nt
}

// plan names n hosts and their switch, and addresses them in 10.r.0.0/24.
func plan(prefix string, r, n int) *Net {
	nt := &Net{Switch: prefix + "sw"}
	for i := range n {
		nt.Hosts = append(nt.Hosts, &Host{
			Name: prefix + "h" + strconv.Itoa(i),
			Addr: fmt.Sprintf("10.%d.0.%d", r, i+1),
			sw:   nt.Switch,
			port: "h" + strconv.Itoa(i),
		})
	}
	return nt
}

func (nt *Net) setup() error {
	if err := nt.add(nt.Switch); err != nil {
		return err
	}
	// forward_delay 0: a port whose host was restored forwards at once.
	if _, err := ip("-n", nt.Switch, "link", "add", bridge, "up", "type", "bridge", "forward_delay", "0"); err != nil {
		return err
	}
	for _, h := range nt.Hosts {
		if err := nt.add(h.Name); err != nil {
			return err
		}
		steps := [][]string{
			{"-n", h.Name, "link", "set", "lo", "up"},
			{"-n", h.Name, "link", "add", dev, "type", "veth", "peer", "name", h.port, "netns", h.sw},
			{"-n", h.sw, "link", "set", h.port, "master", bridge, "up"},
			{"-n", h.Name, "addr", "add", h.Addr + "/24", "dev", dev},
			{"-n", h.Name, "link", "set", dev, "up"},
		}
		for _, s := range steps {
			if _, err := ip(s...); err != nil {
				return err
			}
		}
	}
	return nil
}

// add makes namespace name and records it for close.
func (nt *Net) add(name string) error {
	if _, err := ip("netns", "add", name); err != nil {
		return err
	}
	nt.made = append(nt.made, name)
	return nil
}

// close deletes the namespaces nt made, hosts first, then those of test
// processes that are gone.
func (nt *Net) close(t testing.TB) error {
	var errs []error
	for i := len(nt.made) - 1; i >= 0; i-- {
		errs = append(errs, remove(t, nt.made[i]))
	}
	sweep(t)
	return errors.Join(errs...)
}

// ours matches the namespaces this package names; the group is the pid.
var ours = regexp.MustCompile(`^pd(\d+)-`)

// sweep deletes the namespaces of test processes that are no longer alive.
// Another test process may be sweeping the same ones, so a failure is only
// logged: those namespaces are not this test's.
func sweep(t testing.TB) {
	out, err := ip("netns", "list")
	if err != nil {
		t.Log(err)
		return
	}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := ours.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		if pid, err := strconv.Atoi(m[1]); err == nil && !alive(pid) {
			if err := remove(t, f[0]); err != nil {
				t.Log(err)
			}
		}
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// remove kills what still runs in namespace name, which would otherwise keep
// it and its links alive unnamed, and deletes it.
func remove(t testing.TB, name string) error {
	out, err := ip("netns", "pids", name)
	if err != nil {
		return err
	}
	for _, s := range strings.Fields(out) {
		if pid, err := strconv.Atoi(s); err == nil {
			t.Logf("netns: killing pid %d, still running in %s at cleanup", pid, name)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_, err = ip("netns", "del", name)
	return err
}

// Command returns a command that runs name with args in h's namespace. ip
// execs name, so cmd.Process is name's process.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, ipPath(), append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Run runs `ip args...` in h's namespace.
func (h *Host) Run(args ...string) error {
	_, err := h.ip(args...)
	return err
}

func (h *Host) ip(args ...string) (string, error) {
	return ip(append([]string{"-n", h.Name}, args...)...)
}

// Cut takes h's link down: h reaches no other host and none reaches it.
// Connections over it stall rather than fail.
func (h *Host) Cut() error { return h.Run("link", "set", dev, "down") }

// Restore brings h's link back up, with its address and route, and waits
// until the link is up and its switch port forwards.
func (h *Host) Restore() error {
	if err := h.Run("link", "set", dev, "up"); err != nil {
		return err
	}
	if err := h.Run("addr", "replace", h.Addr+"/24", "dev", dev); err != nil {
		return err
	}
	subnet := h.Addr[:strings.LastIndexByte(h.Addr, '.')] + ".0/24"
	routes, err := h.ip("route", "show", subnet)
	if err != nil {
		return err
	}
	if strings.TrimSpace(routes) == "" {
		if err := h.Run("route", "add", subnet, "dev", dev, "src", h.Addr); err != nil {
			return err
		}
	}
	return h.waitUp()
}

func (h *Host) waitUp() error {
	deadline := time.Now().Add(upTimeout)
	for {
		link, err := h.ip("link", "show", "dev", dev)
		if err != nil {
			return err
		}
		port, err := ip("-n", h.sw, "-d", "link", "show", "dev", h.port)
		if err != nil {
			return err
		}
		if strings.Contains(link, "state UP") && strings.Contains(link, "LOWER_UP") &&
			strings.Contains(port, "bridge_slave state forwarding") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("netns: %s's %s not up after %v: %s; switch port: %s",
				h.Name, dev, upTimeout, strings.TrimSpace(link), strings.TrimSpace(port))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var ipPath = sync.OnceValue(func() string {
	if _, err := os.Stat("/usr/sbin/ip"); err == nil {
		return "/usr/sbin/ip"
	}
	p, _ := exec.LookPath("ip")
	return p
})

// ip runs the ip command; its error names the command line and its output.
func ip(args ...string) (string, error) {
	out, err := exec.Command(ipPath(), args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("netns: ip %s: %s: %w", strings.Join(args, " "), strings.TrimSpace(string(out)), err)
	}
	return string(out), nil
}
