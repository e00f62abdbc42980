package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Chromium is where the browser must be.
const Chromium = "/usr/bin/chromium"

var (
	installOnce sync.Once
	installErr  error
	installOut  []byte
)

// ensure makes sure Chromium is installed, or skips (fails, under
// PROOFD_REQUIRE_CHROMIUM=1) the test.
func ensure(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Chromium); err == nil {
		return
	}
	installOnce.Do(func() {
		script, err := installScript()
		if err != nil {
			installErr = err
			return
		}
		cmd := exec.Command("bash", script)
		installOut, installErr = cmd.CombinedOutput()
	})
	if installErr == nil {
		if _, err := os.Stat(Chromium); err != nil {
			installErr = err
		}
	}
	if installErr != nil {
		msg := "chromium missing and scripts/install-chromium.sh failed: " + installErr.Error() + "\n" + string(installOut)
		if os.Getenv("PROOFD_REQUIRE_CHROMIUM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Logf("installed chromium:\n%s", installOut)
}

// installScript finds scripts/install-chromium.sh above the working
// directory (a test runs in its package's directory).
func installScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "install-chromium.sh")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(p); err != nil {
				return "", err
			}
			return p, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = up
	}
}

// New starts a headless Chromium for t and returns a context for its first
// tab, for chromedp.Do and chromedp.Run. The browser is stopped, and checked
// gone, when t ends; script exceptions and console errors the page raised
// fail t then.
func New(t testing.TB) context.Context {
	t.Helper()
	b := start(t)
	t.Cleanup(func() {
		for _, e := range b.close() {
			t.Error(e)
		}
	})
	return b.ctx
}

// browser is one started Chromium.
type browser struct {
	ctx         context.Context
	cancelTab   context.CancelFunc
	cancelAlloc context.CancelFunc
	dataDir     string
	pid         int

	mu   sync.Mutex
	errs []string // what the page raised
}

func start(t testing.TB) *browser {
	t.Helper()
	ensure(t)
	b := &browser{dataDir: filepath.Join(t.TempDir(), "chromium")}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(b.dataDir),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b.ctx, b.cancelTab = chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	b.cancelAlloc = cancelAlloc
	// Listen starts the browser and opens the tab.
	err := chromedp.Listen(b.ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type != "error" {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			msg = "console.error: " + strings.Join(parts, " ")
		default:
			return
		}
		b.mu.Lock()
		b.errs = append(b.errs, msg)
		b.mu.Unlock()
	})
	if err != nil {
		b.close()
		t.Fatalf("start chromium: %v", err)
	}
	if c := chromedp.FromContext(b.ctx); c.Browser != nil && c.Browser.Process() != nil {
		b.pid = c.Browser.Process().Pid
	}
	return b
}

// close stops the browser and reports what went wrong: processes left
// running, and what the page raised.
func (b *browser) close() []error {
	var errs []error
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) {
		errs = append(errs, fmt.Errorf("close chromium: %w", err))
	}
	cancel()
	b.cancelTab()
	b.cancelAlloc()
	if left := leftovers(b.dataDir, 10*time.Second); len(left) > 0 {
		errs = append(errs, fmt.Errorf("chromium (pid %d) left processes running after cancel: %v", b.pid, left))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errs {
		errs = append(errs, errors.New("page: "+e))
	}
	return errs
}

// leftovers waits up to limit for every process started with dataDir as its
// user data directory to exit, and returns (then kills) those that did not.
func leftovers(dataDir string, limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	for {
		pids := using(dataDir)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
			return pids
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// using lists the live processes whose command line names dataDir as the
// user data directory (Chromium passes it to every child it starts).
func using(dataDir string) []int {
	want := []byte("--user-data-dir=" + dataDir)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(cmdline) == 0 { // gone, or a zombie
			continue
		}
		for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
			if bytes.Equal(arg, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// Screenshot saves a full-page PNG of the tab as name in the test's
// artifact directory: $PROOFD_ARTIFACTS when set, else t.ArtifactDir()
// (kept under `go test -artifacts`, a temporary directory otherwise). It
// logs and returns the path.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("PROOFD_ARTIFACTS")
	if dir == "" {
		dir = t.ArtifactDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}
