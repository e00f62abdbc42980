#!/usr/bin/env bash
# Regenerates the Noir fixtures under testdata/noir/: for each package there
# (Nargo.toml, src/main.nr), circuit.json (the program artifact as
# noir_wasm / nargo write it, base64 gzipped ACIR `bytecode`) and, when the
# package has inputs.json, witness.gz (the gzipped witness stack noir_js
# returns, as `nargo execute` writes it). The outputs are committed; tests
# never run this. It needs Node.js and npm, and installs the pinned
# @noir-lang/noir_wasm and @noir-lang/noir_js into .cache/noir/ (a second
# run reuses them).
#
#   scripts/noir-fixtures.sh               # every package under testdata/noir
#   scripts/noir-fixtures.sh tiny big      # only these
#
# Which is, by hand:
#   npm install --prefix .cache/noir/1.0.0-beta.26 --no-save \
#       @noir-lang/noir_wasm@1.0.0-beta.26 @noir-lang/noir_js@1.0.0-beta.26
#   NODE_PATH=.cache/noir/1.0.0-beta.26/node_modules \
#       node scripts/noir/build.mjs testdata/noir/tiny ...
# noir_wasm compiles in Node with createFileManager(<absolute package dir>)
# and compile_program(fm); no nargo is needed. bb 5.0.0 refuses bytecode
# from much older Noir (`expected msgpack format marker (2 or 3)`), so the
# version is pinned to one it accepts.
#
# When bb is installed (scripts/install-bb.sh), the gate count of each
# circuit is printed. The fixtures and their sizes for bb (`bb gates`
# circuit_size; bb's dyadic size is the next power of two):
#   tiny       assert(x * y == z), z public: 19 gates, dyadic 2^5
#   hashchain  430 Poseidon2 permutations: 31,839 gates, dyadic 2^15, the
#              largest the committed CRS serves (N = 442 gives 32,727 and is
#              still 2^15; each permutation is about 74 gates)
#   big        460 permutations: 34,059 gates, dyadic 2^16, over the CRS
set -euo pipefail

VERSION=1.0.0-beta.26
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${NOIR_CACHE_DIR:-$root/.cache/noir}"
dest="$cache/$VERSION"
modules="$dest/node_modules"

installed() {
	for pkg in noir_wasm noir_js; do
		[ -f "$modules/@noir-lang/$pkg/package.json" ] &&
			grep -q "\"version\": \"$VERSION\"" "$modules/@noir-lang/$pkg/package.json" ||
			return 1
	done
}

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "noir-fixtures: $tool not found on PATH" >&2
		exit 1
	fi
done

if ! installed; then
	mkdir -p "$cache"
	tmp="$(mktemp -d "$cache/.install.XXXXXX")"
	chmod 755 "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	echo "noir-fixtures: installing @noir-lang/noir_wasm and noir_js $VERSION into $dest" >&2
	npm install --prefix "$tmp" --no-save --no-audit --no-fund --no-package-lock \
		--loglevel=error "@noir-lang/noir_wasm@$VERSION" "@noir-lang/noir_js@$VERSION" >&2
	# A half-written previous attempt is removed; a complete one (another
	# run that won the race) is kept.
	if [ -e "$dest" ] && ! installed; then
		rm -rf "$dest"
	fi
	if ! mv -T "$tmp" "$dest" 2>/dev/null && ! installed; then
		echo "noir-fixtures: could not move the install into $dest" >&2
		exit 1
	fi
fi

dirs=()
if [ $# -eq 0 ]; then
	for toml in "$root"/testdata/noir/*/Nargo.toml; do
		dirs+=("$(dirname "$toml")")
	done
else
	for name in "$@"; do
		dirs+=("$root/testdata/noir/$name")
	done
fi

NODE_PATH="$modules" node "$root/scripts/noir/build.mjs" "${dirs[@]}"

bb="${BB:-$root/.cache/bb/5.0.0/bb}"
if [ -x "$bb" ]; then
	for dir in "${dirs[@]}"; do
		gates="$("$bb" gates -b "$dir/circuit.json" 2>/dev/null | grep -o '"circuit_size": *[0-9]*' | grep -o '[0-9]*$')"
		echo "noir-fixtures: $(basename "$dir"): $gates gates (bb gates circuit_size)" >&2
	done
fi
