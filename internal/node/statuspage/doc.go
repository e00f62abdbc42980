// Package statuspage is the node's status page: one HTML page, a script
// and a style sheet, embedded in the binary and served at / (Handler).
//
// The page asks the node itself for everything it shows: every second it
// POSTs {} to /proofd.ingest.v1.IngestService/GetStatus (the ingest API's
// Connect JSON path, proto/ingestv1) and renders the answer: readiness,
// chain tip, finality, settlement, per-stage work, the engine pool, recent
// proofs and a proofs-per-minute chart drawn as inline SVG.
//
// Invariants:
//   - Self-contained: no CDN, no third-party script, no build step; the
//     Content-Security-Policy allows only the node's own origin, so a page
//     that tried to load anything else would break visibly in tests.
//   - Read-only: the page calls GetStatus and nothing else.
//   - Node data reaches the DOM only as text (textContent and SVG
//     attributes), never as markup.
//   - A failed poll shows "disconnected" at once, keeps the last numbers
//     greyed out, and the page keeps polling; the next answer restores it.
//   - Elements an operator or a test reads have stable ids (index.html
//     lists them; app.js fills them).
package statuspage
