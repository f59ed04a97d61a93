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
	// The first Ctrl-C stops the run and stores it; after it, signals get
	// their default behaviour again, so a second Ctrl-C quits at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	return execute(ctx, defaultDeps(), os.Args[1:])
}
