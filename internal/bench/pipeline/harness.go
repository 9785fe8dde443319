package main

import (
	"context"

	"github.com/realname-io/realname/internal/harness"
)

// asynqDB is the Redis database of the asynq baseline; the pipeline's runs
// use harness.DB. Both are flushed before each run.
const asynqDB = 2

// bench is the harness of this program: the shared one (binaries,
// identities, Redis, receiver, children) and the configuration of the run.
type bench struct {
	*harness.Harness
	cfg config
	// enqBin is the enqueue harness's binary.
	enqBin string
}

// newBench builds the binaries, generates the identities and starts Redis.
// close undoes it, also after an error.
func newBench(ctx context.Context, cfg config) (*bench, error) {
	h, err := harness.New(ctx, harness.Options{
		Name:   "pipeline",
		People: max(cfg.jobs, cfg.e2eJobs, cfg.signupBatchJobs()),
		Build:  []string{"./internal/bench/enqueue"},
	})
	if err != nil {
		return nil, err
	}
	return &bench{Harness: h, cfg: cfg, enqBin: h.BinPath("enqueue")}, nil
}
