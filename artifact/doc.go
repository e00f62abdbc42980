// Package artifact names large engine inputs (constraint systems, keys, SRS
// files, VM prestates) by the SHA-256 of their bytes.
//
// Invariant: an Artifact's Digest is the SHA-256 of its Data whenever Data is
// set; New is the only way this package builds one from bytes.
package artifact
