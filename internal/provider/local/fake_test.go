package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/node"
	"github.com/faultline/faultline/targets"
)

// envController makes the test binary a controller that starts a cluster
// in the folder it names, prints its node pids and waits to be killed.
const envController = "FAULTLINE_TEST_CONTROLLER_DIR"

// TestMain turns the test binary into a fake node when the provider starts
// it with a node configuration, or into a controller for
// TestNodesDieWithController.
func TestMain(m *testing.M) {
	node.MainIfNode(func(name string) (targets.Target, bool) {
		if name == (fakeTarget{}).Name() {
			return fakeTarget{}, true
		}
		return nil, false
	})
	if dir := os.Getenv(envController); dir != "" {
		os.Exit(runController(dir))
	}
	os.Exit(m.Run())
}

func runController(dir string) int {
	ctx := context.Background()
	c, err := Start(ctx, Config{Target: fakeTarget{}, Nodes: 2, Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(strings.Trim(fmt.Sprint(c.pids()), "[]"))
	// Wait to be killed; exit on our own only if nobody does.
	<-time.After(time.Minute)
	c.Close(ctx)
	return 3
}

// fakeTarget is a tiny target. Its API speaks lines: "ping" answers "ok";
// "peer NAME" sends "hello" to node NAME's peer listener through the
// node's own link (cfg.Peers) and answers "ok hello" or "err ...". Its peer
// listener echoes lines.
type fakeTarget struct{}

func (fakeTarget) Name() string        { return "fake" }
func (fakeTarget) Description() string { return "test target" }
func (fakeTarget) Workloads() []string { return nil }
func (fakeTarget) Variants() []targets.Choice {
	return []targets.Choice{
		{Name: "ok", Description: "serves"},
		{Name: "exit", Description: "every node exits at once"},
		{Name: "fail-n2", Description: "n2 exits at once, the others serve"},
		{Name: "norestart", Description: "a node serves on its first start and refuses every later one"},
		{Name: "hang", Description: "listens but never answers"},
		{Name: "roles", Description: "one head and --nodes workers"},
	}
}

func (fakeTarget) NewClient(targets.ClientConfig) (core.Client, error) {
	return nil, errors.New("fake target has no clients")
}

// Layout lays out one role "fake" of spec.Nodes nodes, or, for the variant
// "roles", one "head" and spec.Nodes "worker" nodes.
func (f fakeTarget) Layout(spec targets.Spec) (targets.Layout, error) {
	role := func(name string, n int) targets.Role {
		return targets.Role{Name: name, Count: n, Program: targets.GoProgram{Run: f.RunNode}, Ready: f.Ready}
	}
	if spec.Variant == "roles" {
		return targets.Layout{Roles: []targets.Role{role("head", 1), role("worker", spec.Nodes)}}, nil
	}
	return targets.Layout{Roles: []targets.Role{role("fake", spec.Nodes)}}, nil
}

func (fakeTarget) Ready(ctx context.Context, addr string) error {
	resp, err := requestCtx(ctx, addr, "ping")
	if err != nil {
		return err
	}
	if resp != "ok" {
		return fmt.Errorf("unexpected answer %q", resp)
	}
	return nil
}

func (fakeTarget) RunNode(ctx context.Context, cfg targets.NodeConfig, log *slog.Logger) error {
	switch cfg.Variant {
	case "exit":
		return errors.New("fake node refuses to start")
	case "fail-n2":
		if cfg.Name == "n2" {
			return errors.New("fake node refuses to start")
		}
	case "norestart":
		marker := filepath.Join(cfg.DataDir, "started")
		if _, err := os.Stat(marker); err == nil {
			return errors.New("fake node refuses to restart")
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return err
		}
	}
	api, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return err
	}
	peer, err := net.Listen("tcp", cfg.PeerAddr)
	if err != nil {
		api.Close()
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		serveLines(api, func(line string) string {
			if cfg.Variant == "hang" {
				<-ctx.Done()
				return ""
			}
			if name, ok := strings.CutPrefix(line, "peer "); ok {
				addr, ok := cfg.Peers[name]
				if !ok {
					return "err no peer " + name
				}
				resp, err := request(addr, "hello", time.Second)
				if err != nil {
					return "err " + err.Error()
				}
				return "ok " + resp
			}
			if line == "ping" {
				return "ok"
			}
			return "err unknown command"
		})
	})
	wg.Go(func() { serveLines(peer, func(line string) string { return line }) })
	log.Info("fake node serving")
	<-ctx.Done()
	api.Close()
	peer.Close()
	wg.Wait()
	return nil
}

// serveLines answers each line of each connection with handle's result,
// until ln is closed. Connections still open when the process ends die with
// it.
func serveLines(ln net.Listener, handle func(string) string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			r := bufio.NewReader(conn)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := conn.Write([]byte(handle(strings.TrimSpace(line)) + "\n")); err != nil {
					return
				}
			}
		}()
	}
}

// request sends one line to addr on a fresh connection and returns the
// answer, within timeout.
func request(addr, line string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return requestCtx(ctx, addr, line)
}

func requestCtx(ctx context.Context, addr, line string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	return exchange(conn, bufio.NewReader(conn), line)
}

// exchange writes line on conn and reads one answer line from r.
func exchange(conn net.Conn, r *bufio.Reader, line string) (string, error) {
	if _, err := conn.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	resp, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(resp), nil
}
