//go:build !linux

package local

import "os/exec"

// spawner starts child processes. Outside Linux there is no Pdeathsig, so
// nothing ties a node to a controller killed by SIGKILL: the nodes of such
// a controller keep running until their process groups are killed (for
// example `kill -- -PGID`, the group being the node's pid). Every other
// ending (Close, an error, SIGINT, SIGTERM) stops each node's process
// group as on Linux.
type spawner struct{}

func newSpawner() *spawner { return &spawner{} }

func (s *spawner) start(cmd *exec.Cmd) error { return cmd.Start() }

func (s *spawner) close() {}

// procState returns the state letter of pid as ps reports it, for
// systems without /proc.
func procState(pid int) (byte, error) { return psState(pid) }

// parentsOf maps every process's pid to its parent's, as ps reports them.
func parentsOf() (map[int]int, error) { return psParents() }
