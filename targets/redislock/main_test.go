package redislock

import (
	"os"
	"testing"

	"github.com/faultline/faultline/internal/node"
	"github.com/faultline/faultline/targets"
)

// TestMain turns the test binary into a resource node when the local
// provider starts it as one.
func TestMain(m *testing.M) {
	node.MainIfNode(func(name string) (targets.Target, bool) {
		switch name {
		case Name:
			return Target{}, true
		case silentRedis{}.Name():
			return silentRedis{}, true
		}
		return nil, false
	})
	os.Exit(m.Run())
}
