package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/faultline/faultline/internal/images"
	"github.com/faultline/faultline/internal/registry"
	"github.com/faultline/faultline/targets"
	"github.com/spf13/cobra"
)

func newImages() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Build and list the container images of the docker provider",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newImagesBuild(), newImagesList(), newImagesPrune())
	return cmd
}

func newImagesBuild() *cobra.Command {
	var binary, source string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the base image (when missing), the generic node image and each target's image; print their tags",
		Long: "Build the images the docker provider runs. The base is " + images.BaseImage + " when the engine\n" +
			"has it, else one built from Debian's packages with debootstrap (mirror from the machine's apt\n" +
			"sources). The generic node image adds iptables, iproute2 and a static faultline binary; each\n" +
			"target's image is its own Dockerfile on the same base with the same binary. Every image is\n" +
			"tagged by a hash of its inputs and rebuilt only when they change.\n\n" +
			"The binary is --binary, else a build of --source, else the running faultline when it is\n" +
			"static, else a build of the faultline source that holds the working folder.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if binary != "" && source != "" {
				return fmt.Errorf("--binary and --source exclude each other")
			}
			ctx := cmd.Context()
			var err error
			switch {
			case binary != "":
			case source != "":
				binary, err = images.BuildBinary(ctx, source)
			default:
				binary, err = images.NodeBinary(ctx, os.Stderr)
			}
			if err != nil {
				return err
			}
			cli, err := images.Connect(ctx)
			if err != nil {
				return err
			}
			defer cli.Close()
			base, err := images.EnsureBase(ctx, cli, os.Stderr)
			if err != nil {
				return err
			}
			node, err := images.EnsureNode(ctx, cli, binary, os.Stderr)
			if err != nil {
				return err
			}
			fmt.Printf("base %s\nnode %s\n", base, node)
			for _, t := range registry.Targets() {
				im, ok := t.(targets.Imager)
				if !ok {
					continue
				}
				tag, err := images.EnsureImage(ctx, cli, string(im.Dockerfile()), binary, os.Stderr)
				if err != nil {
					return fmt.Errorf("image of %s: %w", t.Name(), err)
				}
				fmt.Printf("target %s %s\n", t.Name(), tag)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&binary, "binary", "", "static faultline binary to put in the node image")
	cmd.Flags().StringVar(&source, "source", "", "build the binary from the faultline source at this folder")
	return cmd
}

func newImagesList() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the images faultline made (label faultline=1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli, err := images.Connect(cmd.Context())
			if err != nil {
				return err
			}
			defer cli.Close()
			list, err := images.List(cmd.Context(), cli)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "TAG\tROLE\tIMAGE ID\tCREATED\tSIZE")
			for _, im := range list {
				tags := strings.Join(im.Tags, ",")
				if tags == "" {
					tags = "<none>"
				}
				fmt.Fprintf(tw, "%s\t%s\t%.12s\t%s\t%.0f MB\n", tags, im.Role,
					strings.TrimPrefix(im.ID, "sha256:"), im.Created.Format("2006-01-02 15:04:05Z"),
					float64(im.Size)/1e6)
			}
			return tw.Flush()
		},
	}
}

func newImagesPrune() *cobra.Command {
	keep := 1
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove faultline's node images except the newest (the base image stays)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keep < 0 {
				return fmt.Errorf("--keep must not be negative, got %d", keep)
			}
			cli, err := images.Connect(cmd.Context())
			if err != nil {
				return err
			}
			defer cli.Close()
			removed, err := images.Prune(cmd.Context(), cli, keep, os.Stderr)
			fmt.Printf("removed %d node images\n", len(removed))
			return err
		},
	}
	cmd.Flags().IntVar(&keep, "keep", keep, "how many of the newest node images to keep")
	return cmd
}
