package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/faultline/faultline/results/report"
	"github.com/faultline/faultline/results/runfolder"
	"github.com/spf13/cobra"
)

func newReport() *cobra.Command {
	return &cobra.Command{
		Use:   "report RUN_DIR",
		Short: "Render report.html of a stored run again from its files and print its path",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := report.Write(args[0]); err != nil {
				return err
			}
			fmt.Fprintln(os.Stdout, filepath.Join(args[0], runfolder.ReportFile))
			return nil
		},
	}
}
