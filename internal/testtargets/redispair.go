// Package testtargets holds targets that the provider tests share: small
// clusters of real servers with roles, built as a user would build their
// own. No program of faultline's imports it.
package testtargets

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"path"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
)

// RedisPair is a primary and a replica of real redis-server (Debian's
// package), each a Server node listening on one port, the replica
// following the primary through its own link. The servers run as the
// account redis when faultline runs as root, and an init command writes
// InitMarker into each data folder before the first start.
type RedisPair struct{}

// InitMarker is the file each node's init command writes into its data
// folder, holding "initialised".
const InitMarker = "init-marker"

var _ targets.Imager = RedisPair{}

// Name returns "redis-pair".
func (RedisPair) Name() string { return "redis-pair" }

// Description is one line.
func (RedisPair) Description() string { return "a redis primary and replica (test target)" }

// Workloads lists none: the tests talk to the servers themselves.
func (RedisPair) Workloads() []string { return nil }

// Variants lists the one variant, "pair".
func (RedisPair) Variants() []targets.Choice { return []targets.Choice{{Name: "pair"}} }

// NewClient fails: RedisPair has no workload clients.
func (RedisPair) NewClient(targets.ClientConfig) (core.Client, error) {
	return nil, errors.New("redis-pair has no workload clients")
}

//go:embed redispair.Dockerfile
var redisPairDockerfile []byte

// Dockerfile returns the image recipe: redis-server, iptables and iproute2
// on Debian, with faultline.
func (RedisPair) Dockerfile() []byte { return redisPairDockerfile }

// Layout lays out the role primary and the role replica, one node each.
func (RedisPair) Layout(targets.Spec) (targets.Layout, error) {
	server := func(replica bool) targets.Server {
		return targets.Server{
			Binary: "redis-server", Package: "redis-server", User: "redis",
			Args: func(cfg targets.NodeConfig) []string {
				host, _, _ := net.SplitHostPort(cfg.APIAddr)
				args := []string{"--port", fmt.Sprint(cfg.APIPort()), "--bind", host, "--dir", cfg.DataDir,
					"--save", "", "--appendonly", "no", "--protected-mode", "no"}
				if replica {
					h, p, _ := net.SplitHostPort(cfg.Peers[cfg.Roles["primary"][0]])
					args = append(args, "--replicaof", h, p)
				}
				return args
			},
			Init: func(cfg targets.NodeConfig) [][]string {
				return [][]string{{"sh", "-c", "echo initialised > " + path.Join(cfg.DataDir, InitMarker)}}
			},
		}
	}
	ready := func(ctx context.Context, addr string) error {
		resp, err := RedisCmd(ctx, addr, "PING")
		if err == nil && resp != "+PONG" {
			err = fmt.Errorf("PING answered %q", resp)
		}
		return err
	}
	return targets.Layout{Roles: []targets.Role{
		{Name: "primary", Count: 1, Program: server(false), Ready: ready, OnePort: true},
		{Name: "replica", Count: 1, Program: server(true), Ready: ready, OnePort: true},
	}}, nil
}

// RedisCmd sends one inline command to the server at addr on a fresh
// connection and returns the answer: a status line as it is ("+OK"), a
// bulk string's content, or "$-1" for none.
func RedisCmd(ctx context.Context, addr, cmd string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(conn, "%s\r\n", cmd); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "$") && line != "$-1" {
		v, err := r.ReadString('\n')
		return strings.TrimSpace(v), err
	}
	return line, nil
}

// Set writes k = v on the server at addr.
func Set(ctx context.Context, addr, k, v string) error {
	resp, err := RedisCmd(ctx, addr, "SET "+k+" "+v)
	if err == nil && resp != "+OK" {
		err = fmt.Errorf("SET %s answered %q", k, resp)
	}
	return err
}

// Has polls the server at addr until it holds k = v and reports whether
// it did within the time given (at most 1000 polls, 20 ms apart), or
// before ctx ended.
func Has(ctx context.Context, addr, k, v string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
		if got, err := RedisCmd(ctx, addr, "GET "+k); err == nil && got == v {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}
