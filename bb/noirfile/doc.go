// Package noirfile reads the files Noir's tools write, as bb takes them: a
// program artifact (`circuit.json`, as nargo or noir_wasm write it), whose
// base64 `bytecode` is a gzipped ACIR program, and a witness (`.gz`).
//
// Invariants:
//   - Nothing is sized by what a file claims: the JSON is read up to
//     MaxArtifact bytes and every gunzip stops at MaxGunzipped, so a gzip
//     bomb is an error, never an allocation.
//   - Errors name the file (or the field of it) that was wrong.
//   - Artifact and Gzip write what Circuit and Witness read: the bb CLI
//     takes both (a recorded bb engine call replays through them).
package noirfile
