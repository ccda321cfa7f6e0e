package main

import (
	"fmt"
	"os"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/results/report/serve"
	"github.com/spf13/cobra"
)

func newServe() *cobra.Command {
	addr := serve.DefaultAddr
	cmd := &cobra.Command{
		Use:   "serve [RESULTS_DIR]",
		Short: "Browse the runs in a results folder (default ./faultline-results) and open their reports",
		Long: "Serve a page listing every run in RESULTS_DIR, newest first, filterable by verdict and test,\n" +
			"with each run's report and files. It listens on 127.0.0.1 unless --addr says otherwise,\n" +
			"serves nothing outside RESULTS_DIR, and stops on Ctrl-C.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := faultline.DefaultTest().Results
			if len(args) == 1 {
				dir = args[0]
			}
			return serve.ListenAndServe(cmd.Context(), addr, dir, func(url string) {
				fmt.Fprintf(os.Stderr, "faultline: serving the runs in %s at %s (Ctrl-C stops)\n", dir, url)
			})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", addr, "address to listen on, host:port")
	return cmd
}
