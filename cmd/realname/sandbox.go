package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/realname-io/realname/internal/sandbox"
)

// Environment variables the sandbox falls back to when no credentials are
// given by flag or file.
const (
	envSandboxSecretID  = "REALNAME_SANDBOX_SECRET_ID"
	envSandboxSecretKey = "REALNAME_SANDBOX_SECRET_KEY"
)

func newSandboxCmd(g *globals) *cobra.Command {
	var (
		addr, credFile, fixtureFile string
		ids, keys                   []string
		replayWindow                time.Duration
		faults                      sandbox.Faults
	)
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run a fake Tencent 实名认证 v2 gateway for demos, tests and benchmarks",
		Long: `Sandbox serves a fake Tencent Cloud 实名认证 v2 gateway on /v2/index.php. It
checks signatures, Timestamps and Nonces like the real one, answers the four
actions from --fixture (see "realname sample --fixture") or from a
deterministic rule, and can inject latency, HTTP 5xx, dropped connections,
held answers, gateway error codes and a rate quota, reproducibly from --seed.
GET /sandbox/stats shows what it has billed; POST /sandbox/reset zeroes it.

Credentials: --secret-id and --secret-key, repeatable and paired in order,
and/or --credentials-file with one "SecretId:SecretKey" or
"SecretId SecretKey" a line (# comments). When neither is given, the
environment variables REALNAME_SANDBOX_SECRET_ID and
REALNAME_SANDBOX_SECRET_KEY are used. A key on the command line is visible in
the process list: prefer the file or the environment.

It serves until interrupted (SIGINT, SIGTERM), then shuts down gracefully.`,
		Example: `  REALNAME_SANDBOX_SECRET_ID=AKIDdemo REALNAME_SANDBOX_SECRET_KEY=demo-key realname sandbox
  realname sandbox --credentials-file creds.txt --fixture fixture.jsonl \
    --seed 7 --latency longtail:10ms-800ms --fault-5xx 0.01 --fault-timeout 0.005 \
    --fault-code 0.01 --fault-codes 5100,6000 --quota 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			creds, err := sandboxCredentials(ids, keys, credFile)
			if err != nil {
				return err
			}
			var fixture *sandbox.Fixture
			if fixtureFile != "" {
				if fixture, err = loadFixtureFile(fixtureFile); err != nil {
					return err
				}
			}
			srv, err := sandbox.New(sandbox.Config{
				Credentials:  creds,
				Fixture:      fixture,
				Faults:       faults,
				ReplayWindow: replayWindow,
				Logger:       g.log,
			})
			if err != nil {
				return err
			}
			return srv.ListenAndServe(cmd.Context(), addr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8600", "listen address")
	f.StringArrayVar(&ids, "secret-id", nil, "accepted SecretId (repeatable; paired in order with --secret-key)")
	f.StringArrayVar(&keys, "secret-key", nil, "SecretKey of the matching --secret-id (repeatable; visible in the process list)")
	f.StringVar(&credFile, "credentials-file", "", `file of "SecretId:SecretKey" or "SecretId SecretKey" lines`)
	f.StringVar(&fixtureFile, "fixture", "", "JSONL fixture of known identities and their answers")
	f.DurationVar(&replayWindow, "replay-window", 2*time.Hour, "allowed Timestamp skew, and how long a Nonce is remembered")
	f.Int64Var(&faults.Seed, "seed", 0, "seed of every fault decision")
	f.Var(&faults.Latency, "latency", "answer delay: none, fixed:20ms, uniform:5ms-50ms or longtail:10ms-800ms (p99 at the max)")
	f.Float64Var(&faults.HTTP5xxRate, "fault-5xx", 0, "share of calls answered HTTP 500/502/503 (not billed)")
	f.Float64Var(&faults.DropRate, "fault-drop", 0, "share of calls whose connection is closed without an answer (not billed)")
	f.Float64Var(&faults.TimeoutRate, "fault-timeout", 0, "share of calls billed but answered only after --fault-timeout-hold")
	f.DurationVar(&faults.TimeoutHold, "fault-timeout-hold", 30*time.Second, "how long --fault-timeout holds an answer")
	f.Float64Var(&faults.CodeRate, "fault-code", 0, "share of calls answered with a gateway error from --fault-codes (not billed)")
	f.IntSliceVar(&faults.Codes, "fault-codes", []int{5100, 6000, 6200}, "gateway codes for --fault-code")
	f.IntVar(&faults.QuotaRPS, "quota", 0, "requests per second admitted across all callers, the rest answered 4400 (0: no quota)")
	return cmd
}

// sandboxCredentials gathers the accepted credentials from the flags and the
// file, or else from the environment. Errors never quote a key.
func sandboxCredentials(ids, keys []string, file string) (map[string]string, error) {
	if len(ids) != len(keys) {
		return nil, fmt.Errorf("%d --secret-id but %d --secret-key: give them in pairs", len(ids), len(keys))
	}
	creds := make(map[string]string)
	for i, id := range ids {
		if id == "" || keys[i] == "" {
			return nil, fmt.Errorf("--secret-id/--secret-key pair %d is empty", i+1)
		}
		if _, dup := creds[id]; dup {
			return nil, fmt.Errorf("--secret-id %s given twice", id)
		}
		creds[id] = keys[i]
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--credentials-file: %w", err)
		}
		fromFile, err := sandbox.ParseCredentials(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--credentials-file %s: %w", file, err)
		}
		for id, key := range fromFile {
			if _, dup := creds[id]; dup {
				return nil, fmt.Errorf("SecretId %s is in both --secret-id and --credentials-file", id)
			}
			creds[id] = key
		}
	}
	if len(ids) == 0 && file == "" {
		id, key := os.Getenv(envSandboxSecretID), os.Getenv(envSandboxSecretKey)
		if id == "" || key == "" {
			return nil, fmt.Errorf("no credentials: give --secret-id and --secret-key, --credentials-file, or %s and %s", envSandboxSecretID, envSandboxSecretKey)
		}
		creds[id] = key
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("--credentials-file %s holds no credentials", file)
	}
	return creds, nil
}

func loadFixtureFile(path string) (*sandbox.Fixture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--fixture: %w", err)
	}
	defer f.Close()
	fx, err := sandbox.LoadFixture(f)
	if err != nil {
		return nil, fmt.Errorf("--fixture %s: %w", path, err)
	}
	return fx, nil
}
