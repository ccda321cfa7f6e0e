// Package node runs a faultline node process: the provider starts the
// faultline binary (or a test binary) with the node's configuration in an
// environment variable, and MainIfNode turns that process into the node.
package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/faultline/faultline/targets"
)

// EnvConfig is the environment variable that carries a node's
// targets.NodeConfig as JSON.
const EnvConfig = "FAULTLINE_NODE_CONFIG"

// Env returns the environment entry that makes a process started with it a
// node with configuration cfg.
func Env(cfg targets.NodeConfig) (string, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("encode node config: %w", err)
	}
	return EnvConfig + "=" + string(b), nil
}

// MainIfNode returns at once when this process is not a node. Otherwise it
// runs the node of the target that lookup finds, until SIGTERM or SIGINT,
// logging to stderr, and exits the process: 0 after a clean stop, 1 on
// failure. Call it first thing in main and in TestMain.
func MainIfNode(lookup func(name string) (targets.Target, bool)) {
	raw, ok := os.LookupEnv(EnvConfig)
	if !ok {
		return
	}
	os.Exit(run(raw, lookup))
}

func run(raw string, lookup func(string) (targets.Target, bool)) int {
	var cfg targets.NodeConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "faultline node: bad %s: %v\n", EnvConfig, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", cfg.Name)
	t, ok := lookup(cfg.Target)
	if !ok {
		log.Error("unknown target", "target", cfg.Target)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	run, err := program(t, cfg)
	if err != nil {
		log.Error("cannot run node", "err", err)
		return 1
	}
	log.Info("node starting", "target", cfg.Target, "variant", cfg.Variant, "role", cfg.Role, "api", cfg.APIAddr, "peer", cfg.PeerAddr)
	if err := run(ctx, cfg, log); err != nil && ctx.Err() == nil {
		log.Error("node failed", "err", err)
		return 1
	}
	log.Info("node stopped")
	return 0
}

// program lays t out as the controller did and returns the Go program of
// cfg's role.
func program(t targets.Target, cfg targets.NodeConfig) (func(context.Context, targets.NodeConfig, *slog.Logger) error, error) {
	nodes, err := targets.Plan(t, cfg.Spec())
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if n.Name != cfg.Name {
			continue
		}
		g, ok := n.Role.Program.(targets.GoProgram)
		if !ok {
			return nil, fmt.Errorf("role %s of target %s does not run Go code", n.Role.Name, t.Name())
		}
		return g.Run, nil
	}
	return nil, fmt.Errorf("target %s lays out no node %s", t.Name(), cfg.Name)
}
