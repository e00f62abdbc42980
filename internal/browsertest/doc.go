// Package browsertest gives tests a headless Chromium driven through
// chromedp, for testing the node's status page as an operator's browser
// renders it.
//
// Invariants:
//   - The browser is /usr/bin/chromium. When it is missing, New runs
//     scripts/install-chromium.sh once per test binary; if that fails the
//     test is skipped, or fails when PROOFD_REQUIRE_CHROMIUM=1 (the
//     Makefile sets it, so CI never silently skips).
//   - Each New starts its own browser with a fresh user data directory under
//     the test's t.TempDir(), headless, with no sandbox, GPU, QUIC,
//     first-run, background networking, component updates or sync: it
//     reaches nothing but what the test points it at.
//   - When the test ends the browser is stopped by cancelling chromedp's
//     contexts, and the test fails if any process started with that user
//     data directory is still alive a few seconds later (such leftovers are
//     then killed, so one leak does not spoil the next test).
//   - Exceptions thrown by the page's scripts and console errors fail the
//     test (a Content-Security-Policy violation is a console error).
package browsertest
