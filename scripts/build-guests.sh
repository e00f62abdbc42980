#!/bin/sh
# Rebuilds the guest programs of examples/guests into testdata/guests/*.elf
# for Cannon's MIPS64 VM. Go 1.24 is required (the Go 1.26 runtime uses
# syscalls Cannon lacks); GOTOOLCHAIN fetches it through the module proxy.
# -trimpath, -buildvcs=false and an empty -buildid make rebuilds
# byte-identical; -w drops DWARF but keeps the symbol table that load-elf
# turns into metadata. Tests use the committed ELFs and never run this.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
toolchain=${GUEST_TOOLCHAIN:-go1.24.13}
for g in hello preimage; do
	(
		cd "$root/examples/guests/$g"
		GOTOOLCHAIN=$toolchain GOOS=linux GOARCH=mips64 GOMIPS64=softfloat CGO_ENABLED=0 GOFLAGS= \
			go build -trimpath -buildvcs=false "-ldflags=-w -buildid=" -o "$root/testdata/guests/$g.elf" .
	)
	echo "built testdata/guests/$g.elf"
done
