package images

import "syscall"

// unmountDetach lazily unmounts the file system at path.
func unmountDetach(path string) error { return syscall.Unmount(path, syscall.MNT_DETACH) }
