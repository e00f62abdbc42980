package statuspage

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets/index.html assets/app.js assets/style.css
var assets embed.FS

// StatusPath is the ingest API method the page polls.
const StatusPath = "/proofd.ingest.v1.IngestService/GetStatus"

// Handler serves the page at / and its assets (/app.js, /style.css); other
// paths answer 404. On a mux that serves other paths too, use Register.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embed above guarantees the directory
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The page and its poll come from the node alone.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// Register mounts the page on mux for exactly its own paths (GET /, /app.js
// and /style.css), so it neither shadows nor conflicts with the mux's other
// patterns (a catch-all "GET /" would conflict with the ingest API's
// "/proofd.ingest.v1.IngestService/").
func Register(mux *http.ServeMux) {
	h := Handler()
	for _, p := range []string{"GET /{$}", "GET /app.js", "GET /style.css"} {
		mux.Handle(p, h)
	}
}
