// Command prf is the Production Readiness Framework: it turns a production
// deployment checklist into code that runs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return execute(ctx, defaultDeps(), os.Args[1:])
}
