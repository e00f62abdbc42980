#!/usr/bin/env bash
# Installs the pinned solc (npm's solcjs, a WebAssembly build of the real
# compiler) into the project-local cache and prints the path of a runnable
# solcjs. The EVM tests call this themselves, so a clean machine with Node
# and npm needs no manual step; a second run is a no-op.
#
#   scripts/install-solc.sh            # prints .../.cache/solc/0.8.37/node_modules/.bin/solcjs
#   SOLC_CACHE_DIR=/elsewhere scripts/install-solc.sh
#
# Progress goes to stderr; stdout is only the path. Concurrent runs (two test
# binaries at once) are safe: each installs into its own temporary directory
# and the first to rename it into place wins.
set -euo pipefail

VERSION=0.8.37
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${SOLC_CACHE_DIR:-$root/.cache/solc}"
dest="$cache/$VERSION"
bin="$dest/node_modules/.bin/solcjs"

installed() {
	[ -x "$bin" ] && [ -f "$dest/node_modules/solc/package.json" ] &&
		grep -q "\"version\": \"$VERSION\"" "$dest/node_modules/solc/package.json"
}

if installed; then
	echo "$bin"
	exit 0
fi

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "install-solc: $tool not found on PATH; solcjs needs Node.js and npm" >&2
		exit 1
	fi
done

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "install-solc: installing solc@$VERSION from npm into $dest" >&2
# --prefix keeps it project-local; the lockfile-free install is pinned by the
# exact version. npm's own output goes to stderr so stdout stays the path.
npm install --prefix "$tmp" --no-save --no-audit --no-fund --no-package-lock \
	--loglevel=error "solc@$VERSION" >&2

# A half-written previous attempt is removed; a complete one (another run
# that won the race) is kept.
if [ -e "$dest" ] && ! installed; then
	rm -rf "$dest"
fi
if ! mv -T "$tmp" "$dest" 2>/dev/null && ! installed; then
	echo "install-solc: could not move the install into $dest" >&2
	exit 1
fi
if ! installed; then
	echo "install-solc: $bin missing after install" >&2
	exit 1
fi
echo "$bin"
