// Package bbapi speaks the msgpack API of Aztec's barretenberg prover, the
// `bb` binary (version 5.0.0, from npm's @aztec/bb.js), to one bb child
// process over its stdin and stdout. It is the Go side of bb for proofd's
// bb engine and benchmarks; it knows nothing of proofd's protocol.
//
// # bb's API
//
// Process runs `bb -c CRS_DIR msgpack run` with CRS_PATH=CRS_DIR and, when
// Config.Threads is set, HARDWARE_CONCURRENCY=N in its environment (both
// the flag and the variable make bb use the directory; with neither, bb
// looks in ~/.bb-crs and, offline, answers a prove with an ErrorResponse
// after a ~6 s download attempt). CRS_DIR must be writable and hold
// bn254_g1.dat: bb writes crs.lock there. bb exits when its stdin ends or
// after answering Shutdown.
//
// Framing, both ways: a 4-byte little-endian length, then one msgpack
// value. A request is [[name, body]], e.g. [["CircuitProve", {...}]]; a
// reply is [name, body], e.g. ["CircuitProveResponse", {...}] or
// ["ErrorResponse", {"message": ...}]. Bodies are maps with bb's snake_case
// keys (the msgpack tags here, checked against testdata/schema.json, which
// is `bb msgpack schema`); byte strings are msgpack bin, and a field
// element is a bin of 32 bytes. bb answers requests in order, one at a
// time. It aborts (no reply, exit by SIGABRT) on a request whose value has
// the wrong msgpack type, nil where it wants a vector included; the typed
// requests here never send one. Settings.OracleHashType must be set.
//
// # What errors mean
//
//   - *BBError: bb answered ErrorResponse. The input was refused (junk
//     bytecode, a witness that does not fit the circuit, a CRS too small
//     to download offline); bb keeps serving the next call.
//   - ErrDied (wrapped): the process is gone and every later call fails
//     with it. bb exited or was killed during the call, or it sent a reply
//     that breaks the protocol (ErrMalformed, ErrFrameTooLarge, or a reply
//     of the wrong name) and was killed because the stream can no longer
//     be trusted, or ctx was done while the call was out: bb cannot be
//     interrupted, so it is killed and the error wraps both ctx.Err() and
//     ErrDied. A caller retries on a new Process.
//   - ctx done before the call was sent (while waiting for an earlier
//     call, or already done): ctx.Err() alone; the process is unharmed.
//   - ErrClosed: a call after Close.
//
// # Invariants
//
//   - No allocation is sized by a number bb sent: ReadFrame checks the
//     length prefix against the limit (Config.MaxFrame) before allocating,
//     and DecodeResponse checks every array, map and byte-string count in
//     a frame against the bytes left before msgpack's decoder sees it (the
//     decoder would otherwise allocate a slice of any claimed length: a
//     36-byte reply could ask for 64 GiB). What decoding allocates is a
//     small multiple of the frame's size. FuzzReadFrame and
//     FuzzDecodeResponse check both.
//   - One call at a time per Process; a call waits for the one before.
//   - bb runs through internal/childproc: in its own process group, killed
//     if this process dies (Pdeathsig), always reaped. After Close returns
//     no bb process is left, whether bb shut down when asked or had to be
//     killed after Config.CloseTimeout.
//   - A Process that failed with ErrDied never serves again.
package bbapi
