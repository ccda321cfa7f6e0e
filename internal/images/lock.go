package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockFile is the machine-wide lock that keeps two faultline processes from
// building the same image at once.
func lockFile() string { return filepath.Join(os.TempDir(), "faultline-images.lock") }

// lock takes the machine-wide image build lock, waiting for it under ctx,
// and returns its release. The lock is an flock, so the kernel releases it
// when its holder dies.
func lock(ctx context.Context, out io.Writer) (func(), error) {
	f, err := os.OpenFile(lockFile(), os.O_CREATE|os.O_RDONLY, 0o666)
	if err != nil {
		return nil, fmt.Errorf("image build lock: %w", err)
	}
	release := func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for said := false; ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return release, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("image build lock %s: %w", f.Name(), err)
		}
		if !said {
			fmt.Fprintf(out, "images: waiting for another faultline process that is building images (lock %s)\n", f.Name())
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("image build lock: %w", ctx.Err())
		case <-tick.C:
		}
	}
}
