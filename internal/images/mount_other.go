//go:build !linux

package images

import "syscall"

// detachMount unmounts the file system at path. Only Linux has lazy
// unmounts; debootstrap, which leaves such mounts behind, runs only there.
func detachMount(path string) error { return syscall.Unmount(path, 0) }
