package enginetest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/protocol"
)

// Fake engines: ways an engine process can misbehave during start-up. Each
// is the test binary itself, re-executed by FakeEngine; Main runs the fake
// instead of the tests.
const (
	// AnnouncesThenDies announces a socket nobody listens on and exits 3.
	AnnouncesThenDies = "announces-then-dies"
	// ListensThenDies listens, announces, and exits 3 without serving.
	ListensThenDies = "listens-then-dies"
	// NeverHandshakes listens and announces, accepts connections and never
	// answers on them, and stays alive.
	NeverHandshakes = "never-handshakes"
	// ClosesStdout closes its stdout without announcing and stays alive.
	ClosesStdout = "closes-stdout"
)

// fakeEngineEnv names the fake a re-executed test binary is to be.
const fakeEngineEnv = "PROOFD_ENGINETEST_FAKE_ENGINE"

// FakeEngine returns options that start the test binary as the fake engine
// named by behaviour. The test package's TestMain must call Main. The fake's
// temporary files go in a directory of the test's (TMPDIR), so a fake the
// test kills leaves nothing behind.
func FakeEngine(tb testing.TB, behaviour string) engine.SpawnOptions {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	// Not tb.TempDir(): its long path would overflow a Unix socket's.
	tmp, err := os.MkdirTemp("", "pfe-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(tmp) })
	return engine.SpawnOptions{Path: exe, Env: append(os.Environ(), fakeEngineEnv+"="+behaviour, "TMPDIR="+tmp)}
}

// runFake runs the fake engine the environment names, if any, and reports
// whether it did.
func runFake() (code int, ran bool) {
	behaviour := os.Getenv(fakeEngineEnv)
	if behaviour == "" {
		return 0, false
	}
	if err := fake(behaviour); err != nil {
		fmt.Fprintln(os.Stderr, "fake engine:", err)
		return 1, true
	}
	return 0, true
}

func fake(behaviour string) error {
	announce := func(path string) {
		a := protocol.Announcement{Version: protocol.Version, Network: "unix", Address: path}
		fmt.Println(a.String())
	}
	switch behaviour {
	case AnnouncesThenDies:
		announce(filepath.Join(os.TempDir(), "proofd-enginetest-nobody-listens", "engine.sock"))
		os.Exit(3)
	case ListensThenDies, NeverHandshakes:
		dir, err := os.MkdirTemp("", "proofd-enginetest-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		ln, err := net.Listen("unix", filepath.Join(dir, "engine.sock"))
		if err != nil {
			return err
		}
		defer ln.Close()
		announce(ln.Addr().String())
		if behaviour == ListensThenDies {
			ln.Close()
			os.RemoveAll(dir)
			os.Exit(3)
		}
		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			defer c.Close() // held open, never answered
		}
	case ClosesStdout:
		os.Stdout.Close()
		time.Sleep(time.Hour) // the test kills it
		return nil
	}
	return fmt.Errorf("unknown behaviour %q", behaviour)
}

// Gone reports whether process pid has exited (a zombie counts as exited:
// it runs nothing, and who reaps it is up to its parent).
func Gone(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) == 0 || f[0] == "Z" || f[0] == "X"
}
