package main

import (
	"io"
	"net/url"
	"os"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

// globals holds what every subcommand shares: the logger, built from the
// persistent flags before any subcommand runs.
type globals struct {
	logLevel  string
	logFormat string
	log       zerolog.Logger
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
			return nil
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("REALNAME_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env REALNAME_LOG_LEVEL)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", envOr("REALNAME_LOG_FORMAT", "json"), "log format: json or console (env REALNAME_LOG_FORMAT)")
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
