package cli

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// listenMetrics listens on --metrics-addr. Unless allowRemote, the address
// must bind a loopback interface only: an empty host (every interface) is
// refused before listening, a name that resolves elsewhere after.
func listenMetrics(addr string, allowRemote bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %q: want HOST:PORT: %w", addr, err)
	}
	notLoopback := fmt.Errorf("--metrics-addr %q is not a loopback address; to serve metrics to the network, add --metrics-allow-remote", addr)
	if host == "" && !allowRemote {
		return nil, notLoopback
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %q: %w", addr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !allowRemote && (!ok || !tcp.IP.IsLoopback()) {
		return nil, errors.Join(notLoopback, ln.Close())
	}
	return ln, nil
}

// serveMetrics serves reg at /metrics on ln until the returned stop is
// called.
func serveMetrics(ln net.Listener, reg *prometheus.Registry) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln) // returns http.ErrServerClosed once stopped
	}()
	return func() {
		srv.Close()
		<-done
	}
}
