// Command realname verifies people's real-name identity against Tencent
// Cloud's 实名认证 API through a Redis job queue. Its subcommands run the
// workers, the sandbox provider, the signer used to debug signatures, and the
// sample data generator; see README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "realname:", err)
		os.Exit(1)
	}
}

// run builds the command tree and executes it with args. It is main without
// the process plumbing, so tests can call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}
