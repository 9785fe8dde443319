package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime/pprof"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

// globals holds what every subcommand shares: the logger, built from the
// persistent flags before any subcommand runs.
type globals struct {
	logLevel  string
	logFormat string
	log       zerolog.Logger
	// cpuProfile is where a CPU profile of the whole command goes; empty:
	// none. A hidden flag, for the benchmark harness and for operators
	// chasing CPU.
	cpuProfile  string
	stopProfile func()
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "realname",
		Short:         "Verify real-name identity (实名认证) against Tencent Cloud through a Redis queue",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), g.logLevel, g.logFormat)
			if err != nil {
				return err
			}
			g.log = log
			return g.startProfile()
		},
		PersistentPostRun: func(*cobra.Command, []string) {
			if g.stopProfile != nil {
				g.stopProfile()
			}
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("REALNAME_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env REALNAME_LOG_LEVEL)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", envOr("REALNAME_LOG_FORMAT", "json"), "log format: json or console (env REALNAME_LOG_FORMAT)")
	root.PersistentFlags().StringVar(&g.cpuProfile, "cpu-profile", os.Getenv("REALNAME_CPU_PROFILE"), "write a CPU profile of the command to this file (env REALNAME_CPU_PROFILE)")
	_ = root.PersistentFlags().MarkHidden("cpu-profile")
	root.AddCommand(
		newSignCmd(),
		newSandboxCmd(g),
		newSampleCmd(),
		newWorkerCmd(g),
		newQueueCmd(),
		newWebhookCmd(),
		newDemoCmd(g),
		newEnqueueCmd(g),
		newBatchCmd(g),
		newAPICmd(g),
		newAPIKeyCmd(),
		newKeysCmd(),
	)
	return root
}

// newLogger returns a zerolog logger writing JSON (or human-readable console
// lines) to w at the given level.
func newLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), err
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// envOr returns the environment variable key, or def when it is unset or
// empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// redactRedisURL drops the password of a Redis URL for printing.
func redactRedisURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// startProfile starts the CPU profile of --cpu-profile, if set; it ends when
// the command returns.
func (g *globals) startProfile() error {
	if g.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(g.cpuProfile)
	if err != nil {
		return fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--cpu-profile: %w", err)
	}
	g.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	return nil
}
