package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"github.com/realname-io/realname/internal/config"
	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/task"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Generate and inspect the encryption keys of personal data at rest",
		Long: `Personal data in queued tasks rests in Redis only as ciphertext (AES-256-GCM),
sealed under the newest key of REALNAME_ENCRYPTION_KEYS ("ID:BASE64,ID:BASE64",
newest first; or a file named by REALNAME_ENCRYPTION_KEYS_FILE). The other keys
still open what they sealed. To rotate: generate a key, put it first, keep the
old ones after it until ` + "`realname keys status`" + ` shows no task uses them.`,
	}
	var id string
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Print a new key entry for REALNAME_ENCRYPTION_KEYS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := keyring.Generate(id)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), e)
			fmt.Fprintln(cmd.ErrOrStderr(), "Keep it secret. First key: REALNAME_ENCRYPTION_KEYS=<it>. Rotation: put it first, before the keys in use.")
			return nil
		},
	}
	gen.Flags().StringVar(&id, "id", "", "the key's ID (default: k<date>-<random>)")

	status := &cobra.Command{
		Use:   "status",
		Short: "Show which keys the queued tasks are sealed under",
		Args:  cobra.NoArgs,
	}
	rc, _ := config.BindRedis(status.Flags(), os.Getenv) // rc.Client reports bad values
	kc, kerr := config.BindKeys(status.Flags(), os.Getenv)
	status.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := kerr(); err != nil {
			return err
		}
		ring, err := kc.Keyring()
		if err != nil && !errors.Is(err, config.ErrNoKeys) {
			return err
		}
		rdb, err := rc.Client()
		if err != nil {
			return err
		}
		defer rdb.Close()
		counts, err := task.KeyUse(asynq.NewInspectorFromRedisClient(rdb), 0)
		if err != nil {
			return err
		}
		return printKeyStatus(cmd, ring, counts)
	}
	cmd.AddCommand(gen, status)
	return cmd
}

func printKeyStatus(cmd *cobra.Command, ring *keyring.Keyring, counts map[string]int) error {
	out := cmd.OutOrStdout()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "key\tqueued tasks\tin REALNAME_ENCRYPTION_KEYS")
	var ids []string
	for id := range counts {
		ids = append(ids, id)
	}
	if ring != nil {
		for _, id := range ring.IDs() {
			if _, ok := counts[id]; !ok {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	missing := 0
	for _, id := range ids {
		in, name := "-", id
		switch {
		case id == "":
			name, in = "(clear text, before encryption)", "-"
		case ring == nil:
			in = "?"
		case ring.Has(id) && id == ring.Primary():
			in = "yes (newest: seals)"
		case ring.Has(id):
			in = "yes"
		default:
			in = "NO: these tasks cannot be opened"
			missing += counts[id]
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", name, counts[id], in)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "results, batches, the spool and the cache hold no personal data in clear or sealed: only masked forms and hashes.")
	if ring != nil {
		for _, id := range ring.IDs()[1:] {
			if counts[id] == 0 {
				fmt.Fprintf(out, "key %s seals no queued task: it can be dropped from REALNAME_ENCRYPTION_KEYS.\n", id)
			}
		}
	}
	if missing > 0 {
		return fmt.Errorf("%d queued tasks are sealed under keys REALNAME_ENCRYPTION_KEYS does not hold", missing)
	}
	return nil
}
