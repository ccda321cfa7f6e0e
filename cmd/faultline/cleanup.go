package main

import (
	"fmt"
	"os"

	"github.com/faultline/faultline/internal/provider/docker"
	"github.com/spf13/cobra"
)

func newCleanup() *cobra.Command {
	return &cobra.Command{
		Use:   "cleanup",
		Short: "Remove the containers and networks that crashed docker runs left behind",
		Long: "Remove every container and network labelled faultline=1 and with a run id. Each run's reaper\n" +
			"already removes the run when its controller dies; this removes what is left after that.\n" +
			"Only the labels are trusted: nothing faultline did not create is touched. Runs still going on\n" +
			"are removed too.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli, err := docker.Connect(cmd.Context())
			if err != nil {
				return err
			}
			defer cli.Close()
			removed, err := docker.Cleanup(cmd.Context(), cli, os.Stderr)
			fmt.Printf("removed %d containers and networks\n", len(removed))
			return err
		},
	}
}
