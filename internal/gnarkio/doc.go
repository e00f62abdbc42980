// Package gnarkio runs gnark's binary decoders on bytes from outside
// without letting them panic or allocate what the input cannot hold: a
// length field is checked against the bytes left before gnark-crypto
// allocates for it, a decoder panic becomes an error, and every byte must be
// consumed. The snark engine and the evm package decode through it.
//
// Invariants: no allocation is sized by a length the remaining bytes cannot
// hold (each element of a gnark-crypto slice takes at least 4 bytes); a
// decoder's panic is an error naming it as corrupt input; trailing bytes are
// an error; UnsafeReadAll (no subgroup checks) is for bytes whose digest was
// checked, never for a peer's.
package gnarkio
