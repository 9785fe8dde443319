package main

import (
	"fmt"
	"os"

	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"github.com/realname-io/realname/internal/config"
	"github.com/realname-io/realname/internal/task"
)

func newQueueCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "queue", Short: "Inspect, pause and resume queues"}
	rc, _ := config.BindRedis(cmd.PersistentFlags(), os.Getenv) // rc.Client reports bad values
	inspector := func() (*asynq.Inspector, func(), error) {
		rdb, err := rc.Client()
		if err != nil {
			return nil, nil, err
		}
		return asynq.NewInspectorFromRedisClient(rdb), func() { rdb.Close() }, nil
	}
	pauseResume := func(pause bool) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			in, done, err := inspector()
			if err != nil {
				return err
			}
			defer done()
			if len(args) == 0 {
				args = task.VerifyQueues
			}
			for _, q := range args {
				verb := "resumed"
				if pause {
					err, verb = in.PauseQueue(q), "paused"
				} else {
					err = in.UnpauseQueue(q)
				}
				if err != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %v\n", q, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", q, verb)
			}
			return nil
		}
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "resume [QUEUE...]",
			Short: "Resume paused queues (default: the verification queues, after fixing credentials)",
			RunE:  pauseResume(false),
		},
		&cobra.Command{
			Use:   "pause [QUEUE...]",
			Short: "Pause queues (default: the verification queues)",
			RunE:  pauseResume(true),
		},
		&cobra.Command{
			Use:   "list",
			Short: "List queues with their sizes and whether they are paused",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				in, done, err := inspector()
				if err != nil {
					return err
				}
				defer done()
				qs, err := in.Queues()
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "%-10s %8s %8s %8s %8s %8s %8s %s\n", "QUEUE", "PENDING", "ACTIVE", "SCHED", "RETRY", "ARCHIVED", "DONE", "PAUSED")
				for _, q := range qs {
					info, err := in.GetQueueInfo(q)
					if err != nil {
						return err
					}
					fmt.Fprintf(out, "%-10s %8d %8d %8d %8d %8d %8d %v\n", q, info.Pending, info.Active, info.Scheduled, info.Retry, info.Archived, info.Completed, info.Paused)
				}
				return nil
			},
		},
	)
	return cmd
}

func newWebhookCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "webhook", Short: "Manage webhook deliveries"}
	rc, _ := config.BindRedis(cmd.PersistentFlags(), os.Getenv) // rc.Client reports bad values
	var jobs []string
	replay := &cobra.Command{
		Use:   "replay [--job JOB_ID ...]",
		Short: "Deliver archived (exhausted or refused) webhooks again: all of them, or those of the given jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rdb, err := rc.Client()
			if err != nil {
				return err
			}
			defer rdb.Close()
			in := asynq.NewInspectorFromRedisClient(rdb)
			out := cmd.OutOrStdout()
			if len(jobs) == 0 {
				n, err := in.RunAllArchivedTasks(task.QueueWebhook)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%d webhooks queued for delivery again\n", n)
				return nil
			}
			for _, j := range jobs {
				if err := in.RunTask(task.QueueWebhook, task.WebhookID(j)); err != nil {
					fmt.Fprintf(out, "%s: %v\n", j, err)
					continue
				}
				fmt.Fprintf(out, "%s: queued for delivery again\n", j)
			}
			return nil
		},
	}
	replay.Flags().StringSliceVar(&jobs, "job", nil, "job ID whose webhook to replay (repeatable)")
	cmd.AddCommand(replay)
	return cmd
}
