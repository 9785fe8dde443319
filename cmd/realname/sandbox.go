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
		codesV3, codesAliyun        []string
		quotaDefault                bool
		quotaActions, outages       []string
	)
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run a fake provider (Tencent v2, Tencent API 3.0, Alibaba Cloud) for demos, tests and benchmarks",
		Long: `Sandbox serves a fake real-name verification provider that speaks three
protocols on one port:

  /v2/index.php (GET or POST form)      Tencent 实名认证 v2 (tencent-v2)
  POST / with an X-TC-Action header     Tencent API 3.0 faceid 2018-03-01 (tencent-v3)
  GET / ?AccessKeyId=… or POST / form   Alibaba Cloud cloudauth 2019-03-07 (aliyun)

so a v3 or Alibaba Cloud client points its endpoint at http://ADDR/. Each
protocol checks signatures, timestamps and nonces like the real one, and
answers its four checks from --fixture (see "realname sample --fixture") or
from a deterministic rule, translated into its own codes, so one fixture
drives every provider. It can inject latency, HTTP 5xx, dropped connections,
held answers and error codes, reproducibly from --seed (the fault flags apply
to every provider; each has its own codes), enforce the providers' documented
per-action quotas (--quota-default, --quota-action), and switch a provider off
(--outage, or POST /sandbox/outage?provider=NAME&on=true|false at run time).
GET /sandbox/stats shows what each provider has billed; POST /sandbox/reset
zeroes it.

Credentials: --secret-id and --secret-key, repeatable and paired in order,
and/or --credentials-file with one "SecretId:SecretKey" or
"SecretId SecretKey" a line (# comments). When neither is given, the
environment variables REALNAME_SANDBOX_SECRET_ID and
REALNAME_SANDBOX_SECRET_KEY are used. The same pairs serve as Tencent
SecretId/SecretKey and as Alibaba Cloud AccessKeyId/AccessKeySecret. A key on
the command line is visible in the process list: prefer the file or the
environment.

It serves until interrupted (SIGINT, SIGTERM), then shuts down gracefully.`,
		Example: `  REALNAME_SANDBOX_SECRET_ID=AKIDdemo REALNAME_SANDBOX_SECRET_KEY=demo-key realname sandbox
  realname sandbox --credentials-file creds.txt --fixture fixture.jsonl \
    --seed 7 --latency longtail:10ms-800ms --fault-5xx 0.01 --fault-timeout 0.005 \
    --fault-code 0.01 --fault-codes 5100,6000 --quota 50
  realname sandbox --credentials-file creds.txt --quota-default \
    --quota-action tencent-v3/IdCardVerification=5 --outage aliyun`,
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
			quotas := sandbox.Quotas{Enabled: quotaDefault || len(quotaActions) > 0}
			for _, spec := range quotaActions {
				if err := quotas.SetLimit(spec); err != nil {
					return fmt.Errorf("--quota-action: %w", err)
				}
			}
			// The fault flags apply to every provider; only the codes
			// differ.
			v3, aliyun := faults, faults
			v3.Codes, v3.APICodes = nil, codesV3
			aliyun.Codes, aliyun.APICodes = nil, codesAliyun
			srv, err := sandbox.New(sandbox.Config{
				Credentials:     creds,
				Fixture:         fixture,
				Faults:          faults,
				TencentV3Faults: v3,
				AliyunFaults:    aliyun,
				Quotas:          quotas,
				Outages:         outages,
				ReplayWindow:    replayWindow,
				Logger:          g.log,
			})
			if err != nil {
				return err
			}
			return srv.ListenAndServe(cmd.Context(), addr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8600", "listen address")
	f.StringArrayVar(&ids, "secret-id", nil, "accepted SecretId / AccessKeyId (repeatable; paired in order with --secret-key)")
	f.StringArrayVar(&keys, "secret-key", nil, "SecretKey / AccessKeySecret of the matching --secret-id (repeatable; visible in the process list)")
	f.StringVar(&credFile, "credentials-file", "", `file of "SecretId:SecretKey" or "SecretId SecretKey" lines`)
	f.StringVar(&fixtureFile, "fixture", "", "JSONL fixture of known identities and their answers")
	f.DurationVar(&replayWindow, "replay-window", 2*time.Hour, "Tencent v2: allowed Timestamp skew, and how long a Nonce is remembered (v3 allows 5m, Alibaba Cloud 15m)")
	f.Int64Var(&faults.Seed, "seed", 0, "seed of every fault decision")
	f.Var(&faults.Latency, "latency", "answer delay: none, fixed:20ms, uniform:5ms-50ms or longtail:10ms-800ms (p99 at the max)")
	f.Float64Var(&faults.HTTP5xxRate, "fault-5xx", 0, "share of calls answered HTTP 500/502/503 (not billed)")
	f.Float64Var(&faults.DropRate, "fault-drop", 0, "share of calls whose connection is closed without an answer (not billed)")
	f.Float64Var(&faults.TimeoutRate, "fault-timeout", 0, "share of calls billed but answered only after --fault-timeout-hold")
	f.DurationVar(&faults.TimeoutHold, "fault-timeout-hold", 30*time.Second, "how long --fault-timeout holds an answer")
	f.Float64Var(&faults.CodeRate, "fault-code", 0, "share of calls answered with an error code from --fault-codes, --fault-codes-tencent-v3 or --fault-codes-aliyun (not billed)")
	f.IntSliceVar(&faults.Codes, "fault-codes", []int{5100, 6000, 6200}, "Tencent v2 gateway codes for --fault-code")
	f.StringSliceVar(&codesV3, "fault-codes-tencent-v3", []string{"InternalError", "FailedOperation.UnKnown"}, "Tencent API 3.0 Error.Code values for --fault-code")
	f.StringSliceVar(&codesAliyun, "fault-codes-aliyun", []string{"InternalError", "500", "402"}, "Alibaba Cloud codes for --fault-code: a gateway code (HTTP 5xx) or a three-digit service Code (HTTP 200)")
	f.IntVar(&faults.QuotaRPS, "quota", 0, "requests per second each provider admits across all callers and actions, the rest refused as it throttles (v2 4400, v3 RequestLimitExceeded, Alibaba Cloud Throttling.User; 0: no quota)")
	f.BoolVar(&quotaDefault, "quota-default", false, "enforce the documented per-action quotas in a strict sliding second: Tencent v3 IdCardVerification 100/s and its other actions 20/s, Alibaba Cloud 50/s per action")
	f.StringArrayVar(&quotaActions, "quota-action", nil, "PROVIDER/ACTION=N: one action's per-second quota, 0 for none (repeatable; implies --quota-default for the other actions), e.g. tencent-v3/IdCardVerification=5")
	f.StringArrayVar(&outages, "outage", nil, "start with PROVIDER (tencent-v2, tencent-v3 or aliyun) switched off: its calls are answered HTTP 503 until POST /sandbox/outage?provider=PROVIDER&on=false (repeatable)")
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
