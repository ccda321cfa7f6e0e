package saga

import (
	"os"
	"testing"

	"github.com/faultline/faultline/internal/node"
	"github.com/faultline/faultline/targets"
)

// TestMain turns the test binary into a saga node when the local
// provider starts it as one.
func TestMain(m *testing.M) {
	node.MainIfNode(func(name string) (targets.Target, bool) {
		if name == Name {
			return Target{}, true
		}
		return nil, false
	})
	os.Exit(m.Run())
}
