// Package crs holds the structured reference string (CRS) that the
// barretenberg prover `bb` needs for UltraHonk over BN254: a prefix of the
// Aztec Ignition ceremony's G1 points, in the layout bb reads from its CRS
// directory (the file bn254_g1.dat).
//
// The points come from a public arkworks-serialized prefix of Ignition
// (alxiong/ark-srs, data/kzg10-bn254-aztec-srs-32768.bin, 32,769 points).
// ConvertArkworks turns that file into bb's layout once; the result is
// committed at bb/crs/bn254_g1.dat and regenerated, from the
// repository root, with
//
//	go run ./bb/crs/cmd/convert -in ../shared/bb/kzg10-bn254-aztec-srs-32768.bin
//
// Nothing in the product reads the arkworks file at run time.
//
// Invariants:
//   - bb's layout is 64 bytes a point, x then y, each a 32-byte big-endian
//     canonical field element, no flag bits, no header. ConvertArkworks
//     writes exactly that, refuses a point at infinity, a non-canonical
//     coordinate or a truncated input, and writes every point of the input.
//   - Check accepts a CRS only when: its length is a whole number of points
//     and at least two; every point is a finite point on the curve and in the
//     G1 subgroup; g1[0] is the generator (1, 2); g1[1] is the point bb has
//     compiled in; and g1[i+1] = tau·g1[i] for every i, for the tau of bb's
//     compiled-in tau·G2. The last is checked for all i at once with a random
//     linear combination and one pairing equation,
//     e(Σ r_i·g1[i+1], G2) = e(Σ r_i·g1[i], tau·G2), which a wrong point
//     passes with probability at most about 1/2^250.
//   - The committed CRS (32,769 points, 2^15 + 1) serves circuits of dyadic
//     size up to 2^15 (MaxDyadicSize); for a larger circuit bb tries to
//     download more points and, offline, fails after several seconds.
//   - PrepareDir gives each bb process a directory of its own holding a copy
//     of bn254_g1.dat, because bb writes crs.lock beside the file (and may
//     rewrite the file if it downloads more points); the source file is
//     never modified.
package crs
