// Package hostmetrics exports an engine server's calls (host.Hooks.CallDone)
// as Prometheus metrics, for the endpoint `proofd engine serve
// --metrics-addr` serves. The host package itself does not import
// Prometheus.
//
// Metrics (namespace proofd_engine_host_):
//
//	calls_total{method,code}   counter    calls the engine served, by method and gRPC status code
//	call_seconds{method}       histogram  time to serve one call
//
// method is the short method name ("Prove", "Health"); the engine
// protocol's services (Engine, Snark, Vm) share no method name, and
// CallDone reports only registered methods, so method takes a fixed set of
// values, as does code (gRPC's codes). Every call CallDone reports,
// refused and panicked ones included, is counted once.
package hostmetrics
