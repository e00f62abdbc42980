package host

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/protocol"
	"github.com/proofd/proofd/proto/enginev1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// announceFunc is an Announce writer that runs a check at announce time.
type announceFunc func(protocol.Announcement)

func (f announceFunc) Write(b []byte) (int, error) {
	a, err := protocol.ParseAnnouncement(string(b))
	if err != nil {
		return 0, err
	}
	f(a)
	return len(b), nil
}

// serve runs a minimal engine with cfg until its announce-time check has
// run, then stops it and waits for Serve to return.
func serve(t *testing.T, cfg Config, atAnnounce func(protocol.Announcement)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.Kind = "test"
	cfg.Register = func(*grpc.Server, *Store) {}
	cfg.Announce = announceFunc(func(a protocol.Announcement) {
		atAnnounce(a)
		cancel()
	})
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ctx); err != nil {
		t.Fatal(err)
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestSocketIsPrivateAtAnnounce(t *testing.T) {
	dir := t.TempDir()
	var sock string
	serve(t, Config{SocketDir: dir}, func(a protocol.Announcement) {
		sock = a.Address
		if got := mode(t, filepath.Dir(sock)); got != fs.ModeDir|0o700 {
			t.Errorf("socket directory mode = %v, want drwx------", got)
		}
		if got := mode(t, sock); got != fs.ModeSocket|0o600 {
			t.Errorf("socket mode = %v, want Srw-------", got)
		}
	})
	if _, err := os.Lstat(filepath.Dir(sock)); !os.IsNotExist(err) {
		t.Errorf("socket directory %s not removed: %v", filepath.Dir(sock), err)
	}
}

// A socket at an explicit path is 0600 from the moment it has that name,
// whatever the umask, and connectable there.
func TestNamedSocketIsPrivateAtAnnounce(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	old := syscall.Umask(0) // the socket would be created 0777
	defer syscall.Umask(old)
	path := filepath.Join(dir, "engine.sock")
	changed := watchAttribs(t, dir)
	serve(t, Config{SocketPath: path}, func(a protocol.Announcement) {
		if a.Address != path {
			t.Errorf("announced %s, want %s", a.Address, path)
		}
		if got := mode(t, path); got != fs.ModeSocket|0o600 {
			t.Errorf("socket mode = %v, want Srw-------", got)
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Errorf("connect to the announced socket: %v", err)
			return
		}
		c.Close()
	})
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind in %s: %v", dir, entries)
	}
	// A chmod after the socket got its name would mean that for a moment it
	// had the umask's mode there.
	if names := changed(); slices.Contains(names, "engine.sock") {
		t.Error("the socket's mode changed after it appeared at its path")
	}
}

// watchAttribs watches dir with inotify and returns a func that lists the
// names in dir whose attributes (mode, say) changed since.
func watchAttribs(t *testing.T, dir string) func() []string {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_ATTRIB); err != nil {
		t.Fatal(err)
	}
	return func() []string {
		var names []string
		buf := make([]byte, 64<<10)
		n, err := syscall.Read(fd, buf)
		if err != nil && err != syscall.EAGAIN {
			t.Fatal(err)
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			names = append(names, strings.TrimRight(string(name), "\x00"))
			off += syscall.SizeofInotifyEvent + int(ev.Len)
		}
		return names
	}
}

func TestStaleSocketDirsRemovedAtStart(t *testing.T) {
	parent := t.TempDir()
	old := time.Now().Add(-time.Hour)
	mkdir := func(name string) string {
		d := filepath.Join(parent, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	bind := func(dir string, keepListening bool) {
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, socketName), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		if keepListening {
			t.Cleanup(func() { ln.Close() })
			return
		}
		ln.SetUnlinkOnClose(false)
		ln.Close() // the file stays and nobody answers: a killed engine's
	}
	dead, live, young, empty, other := mkdir("proofd-engine-dead"), mkdir("proofd-engine-live"),
		mkdir("proofd-engine-young"), mkdir("proofd-engine-empty"), mkdir("not-an-engine")
	bind(dead, false)
	bind(live, true)
	bind(young, false)
	bind(other, false)
	for _, d := range []string{dead, live, empty, other} {
		os.Chtimes(d, old, old)
	}
	target := mkdir("target")
	bind(target, false)
	os.Chtimes(target, old, old)
	link := filepath.Join(parent, "proofd-engine-link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	keep := []string{live, young, other, target, link}
	if os.Getuid() == 0 {
		foreign := mkdir("proofd-engine-foreign")
		bind(foreign, false)
		if err := os.Chown(foreign, 4242, 4242); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(foreign, old, old)
		keep = append(keep, foreign)
	}

	var ours string
	serve(t, Config{SocketDir: parent}, func(a protocol.Announcement) { ours = filepath.Dir(a.Address) })

	for _, d := range []string{dead, empty} {
		if _, err := os.Lstat(d); !os.IsNotExist(err) {
			t.Errorf("stale %s not removed", filepath.Base(d))
		}
	}
	for _, d := range keep {
		if _, err := os.Lstat(d); err != nil {
			t.Errorf("%s removed, want it kept: %v", filepath.Base(d), err)
		}
	}
	if _, err := os.Lstat(ours); !os.IsNotExist(err) {
		t.Errorf("own socket directory %s not removed on exit", ours)
	}
}

// panicky is a service whose handlers panic.
var panicky = grpc.ServiceDesc{
	ServiceName: "test.Panicky",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Boom",
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			boom := func(context.Context, any) (any, error) { panic("unary boom") }
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/test.Panicky/Boom"}, boom)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "BoomStream",
		ServerStreams: true,
		Handler:       func(any, grpc.ServerStream) error { panic("stream boom") },
	}},
}

func TestHandlerPanicBecomesInternal(t *testing.T) {
	var mu sync.Mutex
	var calls []Call
	var log syncBuffer
	srv, err := NewServer(Config{
		Kind:     "test",
		Register: func(s *grpc.Server, _ *Store) { s.RegisterService(&panicky, struct{}{}) },
		Hooks: Hooks{CallDone: func(c Call) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, c)
		}},
		Logger: slog.New(slog.NewTextHandler(&log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := engine.InProcess(ctx, srv.ServeInProcess())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}()

	err = c.Raw().Invoke(ctx, "/test.Panicky/Boom", &emptypb.Empty{}, &emptypb.Empty{})
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "/test.Panicky/Boom: engine panicked: unary boom") {
		t.Errorf("unary panic: got %v, want INTERNAL naming the method and the panic", err)
	}
	st, err := c.Raw().NewStream(ctx, &panicky.Streams[0], "/test.Panicky/BoomStream")
	if err == nil {
		err = st.RecvMsg(&emptypb.Empty{})
	}
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "/test.Panicky/BoomStream: engine panicked: stream boom") {
		t.Errorf("stream panic: got %v, want INTERNAL naming the method and the panic", err)
	}
	if _, err := c.Health(ctx); err != nil {
		t.Fatalf("engine stopped serving after a panic: %v", err)
	}
	if !strings.Contains(log.String(), "handler panicked") {
		t.Errorf("panic not logged; log: %s", log.String())
	}

	mu.Lock()
	defer mu.Unlock()
	got := map[string]codes.Code{}
	for _, call := range calls {
		got[call.Method] = call.Code
		if call.Duration <= 0 {
			t.Errorf("call %s: duration %v", call.Method, call.Duration)
		}
	}
	want := map[string]codes.Code{
		enginev1.Engine_Handshake_FullMethodName: codes.OK,
		"/test.Panicky/Boom":                     codes.Internal,
		"/test.Panicky/BoomStream":               codes.Internal,
		enginev1.Engine_Health_FullMethodName:    codes.OK,
	}
	for m, code := range want {
		if gotCode, ok := got[m]; !ok || gotCode != code {
			t.Errorf("CallDone for %s: got %v (reported: %v), want %v", m, gotCode, ok, code)
		}
	}
}

// syncBuffer is a log sink the server's goroutines and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
