#!/usr/bin/env bash
# Installs Debian's chromium for the status page's browser test
# (internal/node/page_test.go), which calls this itself when
# /usr/bin/chromium is missing. Idempotent: with /usr/bin/chromium present it
# does nothing. Uses sudo only when not root. Says what it does on stderr.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
	echo "install-chromium: /usr/bin/chromium present, nothing to do" >&2
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-chromium: not root and no sudo; install chromium yourself" >&2
		exit 1
	fi
	sudo=(sudo)
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-chromium: apt-get not found; install chromium at /usr/bin/chromium yourself" >&2
	exit 1
fi

echo "install-chromium: ${sudo[*]:+${sudo[*]} }apt-get update" >&2
"${sudo[@]}" apt-get update >&2
echo "install-chromium: ${sudo[*]:+${sudo[*]} }apt-get install -y --no-install-recommends chromium" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2

if [ ! -x /usr/bin/chromium ]; then
	echo "install-chromium: /usr/bin/chromium missing after install" >&2
	exit 1
fi
echo "install-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)" >&2
