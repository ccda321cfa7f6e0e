package images

import "syscall"

// detachMount unmounts the file system at path lazily (MNT_DETACH): it is
// detached now and cleaned up once nothing uses it.
func detachMount(path string) error { return syscall.Unmount(path, syscall.MNT_DETACH) }
