// Command proofd is the proofd proving service: its CLI, its engines and its
// benchmarks. Everything lives in internal/cli; this file wires signals to
// cli.Main and its result to the exit code.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/proofd/proofd/internal/cli"
)

func main() {
	sigs := make(chan os.Signal, 2) // room for the second signal, which must not be missed
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	os.Exit(cli.Main(sigs, os.Args[1:], os.Stdout, os.Stderr))
}
