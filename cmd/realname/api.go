package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"github.com/realname-io/realname/internal/apikey"
	"github.com/realname-io/realname/internal/config"
	"github.com/realname-io/realname/internal/dashboard"
	"github.com/realname-io/realname/internal/metrics"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/producer/httpapi"
)

func newAPICmd(g *globals) *cobra.Command {
	var addr string
	var maxWait, session time.Duration
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API (and the dashboard and metrics) for backends in any language",
		Long: `Api serves POST /v1/verifications, the batch routes, /openapi.json, /metrics,
/healthz, /readyz and the queue dashboard at /monitoring/. Every /v1 route
needs an API key (realname apikey create).`,
		Args: cobra.NoArgs,
	}
	rc, _ := config.BindRedis(cmd.Flags(), os.Getenv) // rc.Client reports bad values
	kc, kerr := config.BindKeys(cmd.Flags(), os.Getenv)
	wp, wperr := config.BindWebhookPolicy(cmd.Flags(), os.Getenv)
	cmd.Flags().StringVar(&addr, "addr", envOr("REALNAME_API_ADDR", "127.0.0.1:8080"), "listen address (env REALNAME_API_ADDR)")
	cmd.Flags().DurationVar(&maxWait, "max-wait", 30*time.Second, "longest ?wait= a caller may ask for")
	defSession, err := time.ParseDuration(envOr("REALNAME_DASHBOARD_SESSION", "12h"))
	if err != nil {
		defSession = -1 // reported when the command runs
	}
	cmd.Flags().DurationVar(&session, "dashboard-session", defSession, "how long a dashboard sign-in lasts (env REALNAME_DASHBOARD_SESSION)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := kerr(); err != nil {
			return err
		}
		if session <= 0 {
			return errors.New("--dashboard-session / REALNAME_DASHBOARD_SESSION: want a positive duration such as 12h")
		}
		if err := wperr(); err != nil {
			return err
		}
		// Callback URLs, of verifications and of batches, are held to the
		// policy the workers deliver under.
		callbacks, err := wp.URLPolicy()
		if err != nil {
			return err
		}
		codec, err := kc.Codec()
		if err != nil {
			return err
		}
		rdb, err := rc.Client()
		if err != nil {
			return err
		}
		defer rdb.Close()
		results, err := store.NewRedis(rdb, store.RedisConfig{Retention: rc.ResultRetention})
		if err != nil {
			return err
		}
		prod, err := producer.New(producer.Config{Redis: rdb, Store: results, Codec: codec, CallbackPolicy: callbacks})
		if err != nil {
			return err
		}
		defer prod.Close()
		redisOpt, err := asynq.ParseRedisURI(rc.URL)
		if err != nil {
			return fmt.Errorf("REALNAME_REDIS_URL: %w", err)
		}
		readOnly, admin := dashboard.Handlers(redisOpt)
		// The API's /metrics: the queues (sizes, latency, paused) and the
		// process; the verification counters are the workers'.
		reg := baseRegistry(rdb)
		srv, err := httpapi.New(httpapi.Config{Redis: rdb, Producer: prod, Store: results, MaxWait: maxWait, Logger: g.log,
			Monitoring: readOnly, MonitoringAdmin: admin, DashboardSession: session, Metrics: metrics.Handler(reg)})
		if err != nil {
			return err
		}
		return srv.Run(cmd.Context(), addr)
	}
	return cmd
}

func newAPIKeyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Create, list and revoke API keys"}
	rc, _ := config.BindRedis(cmd.PersistentFlags(), os.Getenv) // rc.Client reports bad values
	keys := func() (*apikey.Store, func(), error) {
		rdb, err := rc.Client()
		if err != nil {
			return nil, nil, err
		}
		return apikey.New(rdb), func() { rdb.Close() }, nil
	}
	var name, scopes string
	create := &cobra.Command{
		Use:   "create --name NAME --scopes enqueue,read",
		Short: "Create a key; its token is printed once and cannot be shown again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, err := apikey.ParseScopes(scopes)
			if err != nil {
				return fmt.Errorf("--scopes: %w", err)
			}
			ks, done, err := keys()
			if err != nil {
				return err
			}
			defer done()
			k, token, err := ks.Create(cmd.Context(), name, sc)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "created key %s (%s) with scopes %s; the token below is shown once:\n", k.ID, k.Name, scopeList(k.Scopes))
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for (required)")
	create.Flags().StringVar(&scopes, "scopes", "enqueue,read", "comma-separated: enqueue, read, admin")
	list := &cobra.Command{
		Use:   "list",
		Short: "List keys (never their tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ks, done, err := keys()
			if err != nil {
				return err
			}
			defer done()
			all, err := ks.List(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tREVOKED")
			for _, k := range all {
				revoked := "-"
				if !k.RevokedAt.IsZero() {
					revoked = k.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, scopeList(k.Scopes), k.CreatedAt.Format(time.RFC3339), revoked)
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ks, done, err := keys()
			if err != nil {
				return err
			}
			defer done()
			if err := ks.Revoke(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %s revoked\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func scopeList(s []apikey.Scope) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = string(x)
	}
	return strings.Join(parts, ",")
}
