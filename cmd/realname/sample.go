package main

import (
	"fmt"
	"io"
	"iter"
	"os"

	"github.com/spf13/cobra"

	"github.com/realname-io/realname/internal/sample"
)

func newSampleCmd() *cobra.Command {
	var (
		n                 int
		seed              int64
		format, out, fixt string
	)
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Write synthetic identities, and the sandbox fixture that answers them",
		Long: `Sample writes n made-up identities (order number, name, ID number, mobile
number, bank card number) as CSV with the header
orderNo,name,idNumber,phoneNumber,bankCardNumber, or as JSON Lines with the
same field names. The output is a pure function of --n and --seed and is
streamed, so a million records need no more memory than ten.

With --fixture it also writes the matching sandbox fixture: about 85% of the
identities pass every action, the rest get scripted mismatches (01, 98/06,
05) and card failures (12/03, 07, 09, 14…), so that "realname sandbox
--fixture" answers each record as scripted. The fixture holds the outcomes in
the v2 gateway's authCodes; the sandbox answers Tencent API 3.0 and Alibaba
Cloud calls with the same outcome in their own codes, so one fixture drives
every provider.`,
		Example: `  realname sample --n 10000 --seed 42 --out people.csv --fixture fixture.jsonl
  realname sample --n 5 --format jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var write func(io.Writer, iter.Seq[sample.Entry]) error
			switch format {
			case "csv":
				write = sample.WriteCSV
			case "jsonl":
				write = sample.WriteJSONL
			default:
				return fmt.Errorf("--format %q: want csv or jsonl", format)
			}
			if n < 0 {
				return fmt.Errorf("--n must not be negative")
			}
			if n > sample.MaxRecords {
				return fmt.Errorf("--n must be at most %d", sample.MaxRecords)
			}
			// Generate is deterministic, so the fixture pass regenerates the
			// same entries rather than keeping them.
			if err := writeOut(out, cmd.OutOrStdout(), func(w io.Writer) error { return write(w, sample.Generate(n, seed)) }); err != nil {
				return err
			}
			if fixt != "" {
				return writeOut(fixt, nil, func(w io.Writer) error { return sample.WriteFixture(w, sample.Generate(n, seed)) })
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&n, "n", 1000, "number of records")
	f.Int64Var(&seed, "seed", 1, "seed; the same seed gives the same records")
	f.StringVar(&format, "format", "csv", "output format: csv or jsonl")
	f.StringVar(&out, "out", "", `output file (default standard output, also "-")`)
	f.StringVar(&fixt, "fixture", "", "also write the matching sandbox fixture (JSONL) to this file")
	return cmd
}

// writeOut runs write on the file path, or on stdout when path is "" or "-".
func writeOut(path string, stdout io.Writer, write func(io.Writer) error) error {
	if (path == "" || path == "-") && stdout != nil {
		return write(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
