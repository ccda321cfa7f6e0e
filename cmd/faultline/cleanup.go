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
		Short: "Remove what crashed docker and compose runs left behind, and give compose stacks back",
		Long: "Remove every container and network labelled faultline=1 and with a run id. First, for each\n" +
			"helper container of a compose run, give its node (a container of your Compose stack) back as\n" +
			"the run found it: resumed, started again when stopped, without faultline's iptables chains;\n" +
			"then remove the helper (a helper whose node could not be restored stays for another try).\n" +
			"Each run's reaper already does all this when its controller dies; this does what is left\n" +
			"after that. Only the labels are trusted: nothing without them is touched, and a helper's\n" +
			"node is only restored, never removed. Runs still going on are removed too.",
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
