//go:build !linux

package images

import "errors"

// unmountDetach is not needed where debootstrap does not run: nothing is
// mounted inside its tree.
func unmountDetach(string) error { return errors.ErrUnsupported }
