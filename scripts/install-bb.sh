#!/usr/bin/env bash
# Installs the pinned barretenberg prover `bb` (the static linux amd64 binary
# that npm's @aztec/bb.js ships at build/amd64-linux/bb) into the
# project-local cache and prints its path. Only that one file is extracted
# from the npm tarball; its sha256 is pinned here and checked, and
# `bb --version` must print the pinned version. A second run is a no-op.
#
#   scripts/install-bb.sh            # prints .../.cache/bb/5.0.0/bb
#   BB_CACHE_DIR=/elsewhere scripts/install-bb.sh
#
# Progress goes to stderr; stdout is only the path. Concurrent runs are safe:
# each works in its own temporary directory and the first to rename it into
# place wins.
set -euo pipefail

VERSION=5.0.0
BB_VERSION_OUTPUT=5.0.0-nightly.20260710
# sha256 of package/build/amd64-linux/bb inside @aztec/bb.js@5.0.0.
BB_SHA256=c3a4a1125d99953694ab6a7f09e368db5525c368b372e63c3eb7bda4cc5697d5

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${BB_CACHE_DIR:-$root/.cache/bb}"
dest="$cache/$VERSION"
bin="$dest/bb"

sha() { sha256sum "$1" | cut -d' ' -f1; }

# The install is complete when the binary is there, executable and has the
# pinned hash (the hash is written last, in the temp dir, before the rename).
installed() {
	[ -x "$bin" ] && [ -f "$dest/sha256" ] && [ "$(cat "$dest/sha256")" = "$BB_SHA256" ]
}

if installed; then
	echo "$bin"
	exit 0
fi

case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*)
	echo "install-bb: only linux amd64 is supported (this is $(uname -s)-$(uname -m))" >&2
	exit 1
	;;
esac
for tool in npm tar sha256sum; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "install-bb: $tool not found on PATH" >&2
		exit 1
	fi
done

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.install.XXXXXX")"
chmod 755 "$tmp" # mktemp makes it 0700; the installed dir should be readable
trap 'rm -rf "$tmp"' EXIT
echo "install-bb: fetching @aztec/bb.js@$VERSION from npm (about 50 MB) for $dest" >&2
# npm pack downloads the tarball without installing dependencies or running
# scripts; its stdout is the tarball name, which we do not need.
(cd "$tmp" && npm pack --loglevel=error "@aztec/bb.js@$VERSION" >/dev/null)
tarball="$(ls "$tmp"/*.tgz)"
tar -xzf "$tarball" -C "$tmp" package/build/amd64-linux/bb
mv "$tmp/package/build/amd64-linux/bb" "$tmp/bb"
rm -rf "$tmp/package" "$tarball"

got="$(sha "$tmp/bb")"
if [ "$got" != "$BB_SHA256" ]; then
	echo "install-bb: sha256 mismatch for bb from @aztec/bb.js@$VERSION: want $BB_SHA256, got $got" >&2
	exit 1
fi
chmod +x "$tmp/bb"
ver="$("$tmp/bb" --version 2>&1 || true)"
if [ "$ver" != "$BB_VERSION_OUTPUT" ]; then
	echo "install-bb: bb --version printed '$ver', want '$BB_VERSION_OUTPUT'" >&2
	exit 1
fi
echo "$got" >"$tmp/sha256"

# A half-written previous attempt is removed; a complete one (another run
# that won the race) is kept.
if [ -e "$dest" ] && ! installed; then
	rm -rf "$dest"
fi
if ! mv -T "$tmp" "$dest" 2>/dev/null && ! installed; then
	echo "install-bb: could not move the install into $dest" >&2
	exit 1
fi
if ! installed; then
	echo "install-bb: $bin missing after install" >&2
	exit 1
fi
echo "install-bb: installed bb $ver" >&2
echo "$bin"
