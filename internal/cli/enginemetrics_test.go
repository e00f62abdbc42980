package cli

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// --metrics-addr binds loopback only unless --metrics-allow-remote says
// otherwise, whether the host is empty, an address or a name.
func TestListenMetricsLoopbackOnly(t *testing.T) {
	for _, c := range []struct {
		addr        string
		allowRemote bool
		ok          bool
	}{
		{"127.0.0.1:0", false, true},
		{"localhost:0", false, true},
		{":0", false, false},
		{"0.0.0.0:0", false, false},
		{"0.0.0.0:0", true, true},
		{"127.0.0.1", false, false}, // no port
	} {
		ln, err := listenMetrics(c.addr, c.allowRemote)
		if ln != nil {
			ln.Close()
		}
		if (err == nil) != c.ok {
			t.Errorf("listenMetrics(%q, allowRemote %v): %v, want ok=%v", c.addr, c.allowRemote, err, c.ok)
		}
		if err != nil && !c.ok && c.addr != "127.0.0.1" && !strings.Contains(err.Error(), "--metrics-allow-remote") {
			t.Errorf("listenMetrics(%q): %v does not say how to allow it", c.addr, err)
		}
	}
}

// serveMetrics serves the registry until stopped.
func TestServeMetrics(t *testing.T) {
	ln, err := listenMetrics("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "proofd_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	stop := serveMetrics(ln, reg)
	url := "http://" + ln.Addr().String() + "/metrics"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "proofd_test_total 3") {
		t.Errorf("scrape:\n%s", body)
	}
	stop()
	if _, err := http.Get(url); err == nil {
		t.Error("still serving after stop")
	}
}
