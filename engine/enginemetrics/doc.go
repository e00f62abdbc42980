// Package enginemetrics exports the RPCs made on engine connections
// (engine.RPCObserver, set as SpawnOptions.OnRPC) as Prometheus metrics.
// The engine package itself does not import Prometheus.
//
// Metrics (namespace proofd_engine_):
//
//	rpc_seconds{op,code}   histogram  latency of one RPC to an engine, by method and gRPC status code
//
// op is the RPC's short method name ("Prove", "Verify", "Setup",
// "Upload", "Handshake", ...) and code its gRPC status code name ("OK",
// "InvalidArgument", "Unavailable", ...): both come from fixed sets (the
// engine protocol's methods, gRPC's codes), so no label grows without
// bound. The histogram's _count is the number of RPCs. It complements the
// pool's proofd_engine_call_seconds, which times a whole Do attempt (one
// or more RPCs, an upload included) without knowing what it calls.
package enginemetrics
