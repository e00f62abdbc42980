// Command proofd is the proofd proving service: its CLI, its engines and its
// benchmarks. Everything lives in internal/cli; this file wires signals to a
// context and an exit code.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/proofd/proofd/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
