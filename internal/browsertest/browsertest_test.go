package browsertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

// TestBrowserReportsPageErrorsAndLeavesNothing: a page's exception and
// console error are caught, and closing leaves no Chromium process and no
// chromedp goroutine behind.
func TestBrowserReportsPageErrorsAndLeavesNothing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><p id="p">hi</p><script>console.error("bad " + 42); setTimeout(() => { throw new Error("boom") }, 0)</script>`))
	}))
	defer srv.Close()
	b := start(t)
	if err := chromedp.Do(b.ctx, chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS("#p"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the timer throw
	errs := b.close()
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	got := strings.Join(all, "\n")
	if !strings.Contains(got, "bad 42") || !strings.Contains(got, "boom") || strings.Contains(got, "left processes") {
		t.Errorf("close reported:\n%s\nwant the console error and the exception, and no leftovers", got)
	}
	if pids := using(b.dataDir); len(pids) > 0 {
		t.Errorf("chromium processes alive after close: %v", pids)
	}
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}
