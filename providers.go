package faultline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/images"
	"github.com/faultline/faultline/internal/provider/compose"
	"github.com/faultline/faultline/internal/provider/docker"
	"github.com/faultline/faultline/internal/provider/local"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
)

// runCluster is what Run needs of a provider's running cluster: its nodes
// and roles (what every fault sees), a heal that verifies, where clients
// reach each node, and a close that leaves nothing behind. Fault
// capabilities beyond that (nemesis.Partitioner, nemesis.Killer, ...) are
// asserted by the faults themselves.
type runCluster interface {
	nemesis.Cluster
	nemesis.Healer
	// Endpoints lists every node with its role and client address.
	Endpoints() []targets.Endpoint
	// AdminAddr returns where the controller reaches a node's API past
	// the client proxy, now.
	AdminAddr(name string) (string, bool)
	// Reset rebuilds a node from an empty data folder (targets.Admin).
	Reset(ctx context.Context, name string) error
	// NodeConfig returns the configuration a node was started with.
	NodeConfig(name string) (targets.NodeConfig, bool)
	// Close stops every node and removes everything the cluster made.
	Close(ctx context.Context) error
}

// provider is one --provider choice: how it lays a target out (checking
// what it needs before anything is made), a cluster that was never started
// for nemesis.Available to ask, and how it starts one.
type provider struct {
	targets.Choice
	// plan lays target out for t and checks the provider can run it.
	plan func(t Test, target targets.Target) ([]targets.Node, error)
	// planned returns a never-started cluster of the planned nodes with the
	// provider's capabilities.
	planned func(nodes []targets.Node) nemesis.Cluster
	// start starts the nodes, with logs and data under the run folder dir.
	start func(ctx context.Context, t Test, target targets.Target, dir string, log *slog.Logger) (runCluster, error)
}

// providers is the one table of providers: validation, `faultline list`
// and Run all read it.
var providers = []provider{
	{
		Choice: targets.Choice{Name: "local", Description: "nodes are OS processes on 127.0.0.1 (our Go code, or server binaries from PATH); every link passes an in-process proxy"},
		plan: func(t Test, target targets.Target) ([]targets.Node, error) {
			return local.Plan(local.Config{Target: target, Variant: t.Variant, Nodes: t.Nodes, Store: t.Store, Dir: "."})
		},
		planned: func(nodes []targets.Node) nemesis.Cluster { return local.Planned(nodes) },
		start:   startLocal,
	},
	{
		Choice: targets.Choice{Name: "docker", Description: "nodes are containers of the target's image on a private network made for the run; faults with iptables and the engine API"},
		plan: func(t Test, target targets.Target) ([]targets.Node, error) {
			return docker.Plan(docker.Config{Target: target, Variant: t.Variant, Nodes: t.Nodes, Store: t.Store})
		},
		planned: func(nodes []targets.Node) nemesis.Cluster { return docker.Planned(nodes) },
		start:   startDocker,
	},
	{
		Choice: targets.Choice{Name: "compose", Description: "nodes are the containers of a running Docker Compose stack (a test file names its project and services), never created or removed; faults from helper containers sharing each node's network namespace, and the engine API"},
		plan: func(t Test, _ targets.Target) ([]targets.Node, error) {
			if t.Compose == nil {
				return nil, core.BadInput("--provider compose needs a Compose stack to run on: a test file (faultline run -f FILE) or Test.Compose names its project and services")
			}
			return compose.Plan(t.Compose.Project, t.Compose.Services)
		},
		planned: func(nodes []targets.Node) nemesis.Cluster { return compose.Planned(nodes) },
		start:   startCompose,
	},
}

// findProvider returns the provider called name, or bad input listing the
// valid ones.
func findProvider(name string) (provider, error) {
	i := slices.IndexFunc(providers, func(p provider) bool { return p.Name == name })
	if i < 0 {
		var names []string
		for _, p := range providers {
			names = append(names, p.Name)
		}
		return provider{}, core.BadInput("unknown provider %q; valid providers: %s", name, strings.Join(names, ", "))
	}
	return providers[i], nil
}

// startLocal starts t's nodes as local processes.
func startLocal(ctx context.Context, t Test, target targets.Target, dir string, log *slog.Logger) (runCluster, error) {
	exe := t.NodeBinary
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find node binary: %w", err)
		}
	}
	return startWithin(ctx, t, func(sctx context.Context) (*local.Cluster, error) {
		return local.Start(sctx, local.Config{
			Target: target, Variant: t.Variant, Nodes: t.Nodes, Store: t.Store, Dir: dir, Exe: exe, Logger: log,
			ReadyTimeout: t.RecoveryTimeout, StartTimeout: t.StartTimeout,
		})
	})
}

// startWithin runs start under the start timeout (t.StartTimeout) and
// names that timeout when it is what ended a failed start.
func startWithin[C runCluster](ctx context.Context, t Test, start func(sctx context.Context) (C, error)) (runCluster, error) {
	sctx, cancel := startContext(ctx, t)
	defer cancel()
	c, err := start(sctx)
	if err != nil {
		return nil, startError(sctx, err)
	}
	return c, nil
}

// startDocker builds what the target's image lacks (progress on t.Status)
// and starts the nodes as containers on a private network made for the run.
func startDocker(ctx context.Context, t Test, target targets.Target, dir string, log *slog.Logger) (runCluster, error) {
	out := t.Status
	if out == nil {
		out = io.Discard
	}
	cli, err := images.Connect(ctx)
	if err != nil {
		return nil, err
	}
	binary := t.NodeBinary
	if binary == "" {
		if binary, err = images.NodeBinary(ctx, out); err != nil {
			cli.Close()
			return nil, err
		}
	}
	recipe := images.Dockerfile
	if im, ok := target.(targets.Imager); ok {
		recipe = string(im.Dockerfile())
	}
	tag, err := images.EnsureImage(ctx, cli, recipe, binary, out)
	cli.Close()
	if err != nil {
		return nil, err
	}
	return startWithin(ctx, t, func(sctx context.Context) (*docker.Cluster, error) {
		return docker.Start(sctx, docker.Config{
			Target: target, Variant: t.Variant, Nodes: t.Nodes, Store: t.Store, Dir: dir, Image: tag, Logger: log,
			ReadyTimeout: t.RecoveryTimeout, StartTimeout: t.StartTimeout,
		})
	})
}

// startCompose makes sure faultline's node image is there (it runs the
// helpers and the reaper; progress on t.Status) and starts a cluster on
// the containers of t.Compose's running stack. The target's Layout is not
// used: the stack's containers run what they run.
func startCompose(ctx context.Context, t Test, _ targets.Target, dir string, log *slog.Logger) (runCluster, error) {
	out := t.Status
	if out == nil {
		out = io.Discard
	}
	cli, err := images.Connect(ctx)
	if err != nil {
		return nil, err
	}
	binary := t.NodeBinary
	if binary == "" {
		if binary, err = images.NodeBinary(ctx, out); err != nil {
			cli.Close()
			return nil, err
		}
	}
	tag, err := images.EnsureNode(ctx, cli, binary, out)
	cli.Close()
	if err != nil {
		return nil, err
	}
	return startWithin(ctx, t, func(sctx context.Context) (*compose.Cluster, error) {
		return compose.Start(sctx, compose.Config{
			Project: t.Compose.Project, Services: t.Compose.Services, Image: tag, Dir: dir, Logger: log,
			ReadyTimeout: t.RecoveryTimeout, StartTimeout: t.StartTimeout,
		})
	})
}
