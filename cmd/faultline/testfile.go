package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/testfile"
)

// fileFlag defines -f/--file on cmd, into file.
func fileFlag(cmd *cobra.Command, file *string) {
	cmd.Flags().StringVarP(file, "file", "f", "", "read the test from this test file (docs/testfile.md); flags given on the command line override its values")
}

// fromFile returns the test the file at path describes, with every flag
// of testFlags given explicitly on cmd's command line applied over it
// (flags holds their values), and run's --concurrency when cmd is run. A
// flag left out keeps the file's value, or the default where the file
// gives none.
func fromFile(cmd *cobra.Command, path string, flags faultline.Test) (faultline.Test, error) {
	t, err := testfile.Load(path)
	if err != nil {
		return flags, err
	}
	// The same flags again, bound to the file's test: setting each one
	// the user gave, as text, parses it as the command line did.
	shadow := &cobra.Command{}
	var nem string
	testFlags(shadow, &t, &nem)
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if err != nil || shadow.Flags().Lookup(f.Name) == nil {
			return
		}
		err = shadow.Flags().Set(f.Name, f.Value.String())
	})
	if err != nil {
		return flags, err
	}
	if shadow.Flags().Changed("nemesis") {
		t.Nemesis = splitList(nem)
	}
	// A size prints rounded; take the value itself.
	if cmd.Flags().Changed("check-memory") {
		t.CheckMemory = flags.CheckMemory
	}
	if cmd.Name() == "run" && cmd.Flags().Changed("concurrency") {
		t.Concurrency = flags.Concurrency
	}
	return t, nil
}

func newInit() *cobra.Command {
	return &cobra.Command{
		Use:   "init [FILE]",
		Short: "Write a commented example test file (default " + testfile.DefaultName + ") to edit for your Compose stack",
		Long: "Write a commented example test file, which faultline run -f FILE runs once its compose and client\n" +
			"sections describe your running Compose stack (docs/testfile.md describes every field). An\n" +
			"existing file is never overwritten.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path := testfile.DefaultName
			if len(args) == 1 {
				path = args[0]
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, fs.ErrExist) {
				return core.BadInput("%s exists already; edit it, or name another file (faultline init FILE)", path)
			}
			if err != nil {
				return core.BadInput("write %s: %v", path, errors.Unwrap(err))
			}
			_, err = f.WriteString(testfile.Example)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(path)
				return fmt.Errorf("write %s: %w", path, err)
			}
			fmt.Printf("wrote %s: describe your Compose stack in its compose and client sections, then run faultline run -f %s\n", path, path)
			return nil
		},
	}
}
