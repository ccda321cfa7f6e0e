package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/internal/provider/netfilter"
)

// Labels that mark what this package creates. Every container and network
// carries LabelFaultline=1 and LabelRun=<run id>; containers also carry
// LabelNode=<node name>.
const (
	LabelFaultline = "faultline"
	LabelRun       = "faultline.run"
	LabelNode      = "faultline.node"
)

// ErrNoEngine is returned (wrapped) when no Docker engine answers.
var ErrNoEngine = errors.New("no Docker engine answered")

// Engine is the part of the Docker Engine API the docker provider uses.
// *client.Client implements it; tests may pass a fake.
type Engine interface {
	Ping(ctx context.Context, opts client.PingOptions) (client.PingResult, error)

	NetworkCreate(ctx context.Context, name string, opts client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	NetworkInspect(ctx context.Context, id string, opts client.NetworkInspectOptions) (client.NetworkInspectResult, error)
	NetworkList(ctx context.Context, opts client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, id string, opts client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)

	ContainerCreate(ctx context.Context, opts client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, id string, opts client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerStop(ctx context.Context, id string, opts client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerKill(ctx context.Context, id string, opts client.ContainerKillOptions) (client.ContainerKillResult, error)
	ContainerPause(ctx context.Context, id string, opts client.ContainerPauseOptions) (client.ContainerPauseResult, error)
	ContainerUnpause(ctx context.Context, id string, opts client.ContainerUnpauseOptions) (client.ContainerUnpauseResult, error)
	ContainerRemove(ctx context.Context, id string, opts client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerInspect(ctx context.Context, id string, opts client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerList(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerLogs(ctx context.Context, id string, opts client.ContainerLogsOptions) (client.ContainerLogsResult, error)

	ExecCreate(ctx context.Context, id string, opts client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecAttach(ctx context.Context, execID string, opts client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspect(ctx context.Context, execID string, opts client.ExecInspectOptions) (client.ExecInspectResult, error)
}

var _ Engine = (*client.Client)(nil)

// pingTimeout bounds the first request to the engine.
const pingTimeout = 10 * time.Second

// Connect returns a client of the engine the environment names
// (DOCKER_HOST and friends; the local socket by default), with the API
// version negotiated down to the engine's (API 1.40 and later work), after
// checking that the engine answers. An engine that does not answer gives
// an error wrapping ErrNoEngine. The caller closes the client.
func Connect(ctx context.Context) (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		if client.IsErrConnectionFailed(err) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w at %s: %v", ErrNoEngine, cli.DaemonHost(), err)
		}
		return nil, fmt.Errorf("docker engine at %s: %w", cli.DaemonHost(), err)
	}
	return cli, nil
}

// labelFilter returns the filter that selects objects whose label key has
// value v.
func labelFilter(key, v string) client.Filters {
	return make(client.Filters).Add("label", key+"="+v)
}

// ExecResult is what a command run inside a container did: its output,
// each stream cut to its first MiB, and its exit status.
type ExecResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// maxExecOutput bounds what exec keeps of each stream.
const maxExecOutput = 1 << 20

// Exec runs cmd inside container id as root with env added, waits for it
// and returns its output and exit status. An error means the command could
// not be run or its status not learnt (ctx ended, the container is not
// running or is paused); a command that ran and failed is an ExecResult
// with a non-zero ExitCode.
func Exec(ctx context.Context, eng Engine, id string, env []string, cmd ...string) (ExecResult, error) {
	ec, err := eng.ExecCreate(ctx, id, client.ExecCreateOptions{
		User: "0:0", AttachStdout: true, AttachStderr: true, Env: env, Cmd: cmd,
	})
	if err != nil {
		return ExecResult{}, err
	}
	att, err := eng.ExecAttach(ctx, ec.ID, client.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, err
	}
	stop := context.AfterFunc(ctx, att.Close)
	var stdout, stderr bytes.Buffer
	_, err = stdcopy.StdCopy(&limitWriter{w: &stdout, n: maxExecOutput}, &limitWriter{w: &stderr, n: maxExecOutput}, att.Reader)
	stop()
	att.Close()
	if ctx.Err() != nil {
		return ExecResult{}, context.Cause(ctx)
	}
	if err != nil {
		return ExecResult{}, fmt.Errorf("read exec output: %w", err)
	}
	// The stream ends when the process does; the engine may take a moment
	// to record the exit code.
	for {
		in, err := eng.ExecInspect(ctx, ec.ID, client.ExecInspectOptions{})
		if err != nil {
			return ExecResult{}, err
		}
		if !in.Running {
			return ExecResult{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: in.ExitCode}, nil
		}
		select {
		case <-ctx.Done():
			return ExecResult{}, context.Cause(ctx)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Shell runs script with sh inside container id as Exec does, and fails
// unless it exits 0: the error then gives the exit status and the
// script's output (stderr first) on one line.
func Shell(ctx context.Context, eng Engine, id string, env []string, script string) (ExecResult, error) {
	res, err := Exec(ctx, eng, id, env, "sh", "-c", script)
	if err != nil {
		return res, err
	}
	if res.ExitCode != 0 {
		return res, fmt.Errorf("exit status %d: %s", res.ExitCode, oneLine(res.Stderr+" "+res.Stdout))
	}
	return res, nil
}

// Probe tries a TCP connection from inside container id (in its network
// namespace) to each target (host:port) at once, each waiting up to
// timeout, with netfilter.ProbeScript, and returns each target's outcome.
// No targets is no probe. ctx bounds the whole, so it should allow more
// than timeout.
func Probe(ctx context.Context, eng Engine, id string, targets []string, timeout time.Duration) (map[string]netfilter.ProbeOutcome, error) {
	if len(targets) == 0 {
		return map[string]netfilter.ProbeOutcome{}, nil
	}
	args := append([]string{"bash", "-c", netfilter.ProbeScript, "probe"}, targets...)
	res, err := Exec(ctx, eng, id, []string{netfilter.EnvProbeTimeout + "=" + netfilter.Seconds(timeout)}, args...)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("probe script: exit status %d: %s", res.ExitCode, oneLine(res.Stderr))
	}
	return netfilter.ParseProbes(res.Stdout, targets)
}

// limitWriter keeps the first n bytes written to it and discards the rest.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
