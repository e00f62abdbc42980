// Package vmclient is the typed client of the VM engine (vm/vmengine): load
// a prestate, then ask for the claim, final state or step data at any step.
// Trace wraps it in op-challenger's TraceProvider shape.
//
// Invariants:
//   - The prestate travels by digest and is uploaded only when the engine
//     says it lacks it.
//   - Every hash the engine sends is checked to be 32 bytes before use.
//   - VM calls are not recorded by the debug recorder: no CLI command
//     replays a call against a VM engine yet (proofd vm run reproduces a
//     step's proof from a snapshot file instead).
package vmclient
