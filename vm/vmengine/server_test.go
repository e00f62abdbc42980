package vmengine_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/vmclient"
	"github.com/proofd/proofd/proto/enginev1"
	"github.com/proofd/proofd/vm/vmengine"
)

// TestRequestCannotRunCommands: a Load may only name a preimage server the
// engine was started with. A command in the request, or a name that was
// not configured, is refused as bad input naming it, and nothing runs.
func TestRequestCannotRunCommands(t *testing.T) {
	_, pre := prestate(t, "preimage", "snapshot")
	marker := filepath.Join(t.TempDir(), "ran")
	touch := []string{"sh", "-c", "touch " + marker}
	c := inProcessWith(t, vmengine.Options{PreimageServers: map[string][]string{"kv": serverArgv(t)}})
	if err := c.Upload(ctxT(t), "prestate", pre); err != nil {
		t.Fatal(err)
	}

	_, err := vmclient.New(c).Load(ctxT(t), vmclient.LoadRequest{Prestate: pre, PreimageServer: "touch"})
	var ie *engine.InputError
	if !errors.As(err, &ie) || ie.Input != "preimage_server_name" || !strings.Contains(ie.Reason, `"touch"`) {
		t.Errorf("unconfigured server name: got %v, want an InputError naming preimage_server_name and \"touch\"", err)
	}
	// An old client's command line, sent as protocol version 1 allows.
	vmc := enginev1.NewVmClient(c.Raw())
	_, err = vmc.Load(ctxT(t), &enginev1.VmLoadRequest{Prestate: pre.Digest[:], PreimageServer: touch}) //nolint:staticcheck // the deprecated field is what is tested
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "preimage_server") {
		t.Errorf("command line in the request: got %v, want InvalidArgument naming preimage_server", err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the command named in a request ran (%s exists: %v)", marker, err)
	}

	// The configured server is what serves the preimage guest: it ends
	// as it does with the same preimages given in the request.
	started := filepath.Join(t.TempDir(), "started")
	t.Setenv(startedEnv, started)
	info, err := vmclient.New(c).Load(ctxT(t), vmclient.LoadRequest{Prestate: pre, PreimageServer: "kv"})
	if err != nil {
		t.Fatalf("load with the configured server: %v", err)
	}
	kv, err := vmclient.New(inProcess(t)).Load(ctxT(t), vmclient.LoadRequest{Prestate: pre, Preimages: guestKV()})
	if err != nil || !info.Exited || info.FinalClaim != kv.FinalClaim || info.EndStep != kv.EndStep {
		t.Fatalf("load with the configured server: %+v; with the preimages in the request: %+v, %v", info, kv, err)
	}
	if b, _ := os.ReadFile(started); strings.Count(string(b), "\n") != 1 {
		t.Fatalf("configured server started %q times, want once", b)
	}
}

// TestConfigRejectsBadServers: options are checked when the engine starts.
func TestConfigRejectsBadServers(t *testing.T) {
	_, err := vmengine.Config(nil, vmengine.Options{PreimageServers: map[string][]string{"": {"x"}, "a=b": {"x"}, "empty": nil}})
	for _, want := range []string{`""`, `"a=b"`, `"empty"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config error %v does not mention %s", err, want)
		}
	}
}

// TestConcurrentLoadsShareOneRun: two Loads of one prestate at once run
// it once (one preimage server started) and get the same answer.
func TestConcurrentLoadsShareOneRun(t *testing.T) {
	_, pre := prestate(t, "preimage", "snapshot")
	c := inProcessWith(t, vmengine.Options{PreimageServers: map[string][]string{"kv": serverArgv(t)}})
	if err := c.Upload(ctxT(t), "prestate", pre); err != nil {
		t.Fatal(err)
	}
	started := filepath.Join(t.TempDir(), "started")
	t.Setenv(startedEnv, started)
	var wg sync.WaitGroup
	infos := make([]*vmclient.TraceInfo, 4)
	errs := make([]error, len(infos))
	for k := range infos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			infos[k], errs[k] = vmclient.New(c).Load(ctxT(t), vmclient.LoadRequest{Prestate: pre, PreimageServer: "kv", SnapshotEvery: 20_000})
		}()
	}
	wg.Wait()
	for k := range infos {
		if errs[k] != nil || infos[k].FinalClaim != infos[0].FinalClaim {
			t.Fatalf("load %d: %+v, %v", k, infos[k], errs[k])
		}
	}
	if b, _ := os.ReadFile(started); strings.Count(string(b), "\n") != 1 {
		t.Fatalf("%d concurrent loads started the preimage server %d times, want once", len(infos), strings.Count(string(b), "\n"))
	}
}

// TestUnload: an unloaded prestate leaves the budget and its questions
// say so; a VMTrace loads it again by itself.
func TestUnload(t *testing.T) {
	_, pre := prestate(t, "hello", "snapshot")
	c := inProcess(t)
	tr, err := vmclient.NewTrace(ctxT(t), c, vmclient.LoadRequest{Prestate: pre, MaxSteps: 300_000, SnapshotEvery: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	want, err := tr.Get(ctxT(t), 123_456)
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.Health(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	unloaded, freed, err := vmclient.New(c).Unload(ctxT(t), pre.Digest)
	if err != nil || !unloaded || freed == 0 {
		t.Fatalf("unload: %v %d %v", unloaded, freed, err)
	}
	after, err := c.Health(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if after.GetResidentBytes() != before.GetResidentBytes()-freed {
		t.Fatalf("resident %d bytes after freeing %d of %d", after.GetResidentBytes(), freed, before.GetResidentBytes())
	}
	if _, err := vmclient.New(c).ClaimAt(ctxT(t), pre.Digest, 1); !errors.Is(err, vmclient.ErrNotLoaded) {
		t.Fatalf("claim after unload: got %v, want ErrNotLoaded", err)
	}
	if again, _, err := vmclient.New(c).Unload(ctxT(t), pre.Digest); err != nil || again {
		t.Fatalf("second unload: %v %v, want not loaded and no error", again, err)
	}
	got, err := tr.Get(ctxT(t), 123_456)
	if err != nil || got != want {
		t.Fatalf("trace after unload: %x %v, want %x (loaded again)", got, err, want)
	}
}
