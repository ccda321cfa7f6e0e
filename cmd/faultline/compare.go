package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/results/compare"
	"github.com/spf13/cobra"
)

func newCompare() *cobra.Command {
	results := faultline.DefaultTest().Results
	var (
		jsonOut  bool
		htmlFile string
	)
	cmd := &cobra.Command{
		Use:   "compare RUN RUN...",
		Short: "Show two or more stored runs side by side: verdicts, throughput, latency, availability, staleness",
		Long: "Show two or more stored runs side by side, in a table on stdout and as an HTML page: what ran,\n" +
			"the verdict and anomalies per checker, throughput, latency percentiles overall and per operation,\n" +
			"availability in quiet periods and under each fault, and the staleness of reads.\n\n" +
			"Each RUN is a run folder, a <target>-<workload> folder (its newest finished run) or a results\n" +
			"root (the run its latest link points at). The page and compare.json go to\n" +
			"<results>/compare/<UTC time>/ (--html FILE writes the page there instead); their path goes\n" +
			"to stderr. The exit code is 0 once the comparison is made, whatever the runs' verdicts;\n" +
			"3 when it cannot be (fewer than two runs, a folder that is not a run, the same run twice).",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := faultline.Compare(args)
			if err != nil {
				return err
			}
			page := htmlFile
			if page != "" {
				err = compare.WriteHTML(page, c)
			} else {
				page, err = compare.Write(results, c, time.Now())
			}
			if err != nil {
				return err
			}
			if jsonOut {
				b, err := json.Marshal(c)
				if err != nil {
					return fmt.Errorf("encode comparison: %w", err)
				}
				if _, err := os.Stdout.Write(append(b, '\n')); err != nil {
					return fmt.Errorf("write comparison: %w", err)
				}
			} else if err := compare.WriteTable(os.Stdout, c); err != nil {
				return fmt.Errorf("write comparison: %w", err)
			}
			fmt.Fprintf(os.Stderr, "faultline: comparison written to %s\n", page)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&results, "results", results, "results root whose compare/ folder receives the page and compare.json")
	f.StringVar(&htmlFile, "html", "", "write the page to this file instead (no compare.json)")
	f.BoolVar(&jsonOut, "json", false, "print the comparison as one JSON object on stdout instead of the table")
	return cmd
}
