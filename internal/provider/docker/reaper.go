package docker

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/internal/provider/lifecycle"
)

// The reaper removes a run's containers and network when the controller
// that made them dies without closing its cluster (SIGKILL, a crash, an
// OOM kill). Each cluster starts one reaper container before anything
// else: the faultline binary of the node image in reaper mode (EnvReaper),
// with the engine's socket mounted and a TCP port published on 127.0.0.1.
// The controller connects, proves itself with a token, and holds the
// connection for the life of the cluster. When the connection ends without
// the line "done" (the kernel closes a dead process's sockets), or when no
// controller connects within the reaper's wait, the reaper removes every
// container and network labelled with its run id (paused ones are resumed
// first), never anything else, and exits; the engine then removes the
// reaper itself (AutoRemove). Close removes the run's objects itself and
// then says "done", so a clean end leaves no reaper behind. It works on
// labels alone, whatever containers the run is made of.
//
// The protocol, one line each way:
//
//	controller: hello <token>    reaper: ok | error <reason>
//	controller: done             reaper: bye (and exits without reaping)

// EnvReaper names the environment variable that makes the faultline binary
// a reaper (see MainIfReaper); it holds the reaper's JSON configuration.
const EnvReaper = "FAULTLINE_REAPER"

// LabelReaper marks the reaper container of a run, with value "1".
const LabelReaper = "faultline.reaper"

// ReaperPort is the port the reaper listens on inside its container.
const ReaperPort = 8080

const (
	// reaperSocket is where the engine's socket is mounted in the reaper.
	reaperSocket = "/var/run/docker.sock"
	// defaultEngineSocket is the socket on the engine's host mounted into
	// the reaper when the controller reaches the engine otherwise than by
	// a unix socket (tcp://, ssh://).
	defaultEngineSocket = "/var/run/docker.sock"
	// reaperWait is how long a reaper waits for its controller to connect
	// before it reaps.
	reaperWait = time.Minute
	// reaperConnectTimeout bounds the controller's wait for its reaper to
	// answer; it is shorter than reaperWait, so that the reaper does not
	// reap a run whose controller is still trying to connect.
	reaperConnectTimeout = 30 * time.Second
	// reaperHelloTimeout bounds one exchange of lines.
	reaperHelloTimeout = 5 * time.Second
	// reapTimeout bounds the whole reaping.
	reapTimeout = 2 * time.Minute
	// reapSettle is the pause between removal passes; the reaper stops
	// after two passes in a row find nothing, which catches an object
	// whose creation was under way when the controller died.
	reapSettle = 500 * time.Millisecond
	// reaperGoneTimeout bounds the wait for the engine to remove a reaper
	// that said bye.
	reaperGoneTimeout = 10 * time.Second
)

// reaperPort is ReaperPort as the engine names it.
var reaperPort = network.MustParsePort(strconv.Itoa(ReaperPort) + "/tcp")

// reaperConfig is the content of EnvReaper.
type reaperConfig struct {
	Run   string `json:"run"`
	Token string `json:"token"`
	// Wait is how long to wait for the controller, as a Go duration.
	Wait string `json:"wait"`
}

// reaperState is the controller's side of its reaper. Guarded by
// Cluster.mu once Start has returned.
type reaperState struct {
	name string
	id   string // set once the container exists
	addr string // the published port on 127.0.0.1
	conn net.Conn
}

// reaperLabels returns the labels of the run's reaper container.
func (c *Cluster) reaperLabels() map[string]string {
	l := c.labels()
	l[LabelReaper] = "1"
	return l
}

// engineSocket returns the path of the engine's socket on the engine's
// host: the path of a unix:// engine address, else the usual path.
func engineSocket(eng Engine) string {
	if h, ok := eng.(interface{ DaemonHost() string }); ok {
		if p, ok := strings.CutPrefix(h.DaemonHost(), "unix://"); ok && p != "" {
			return p
		}
	}
	return defaultEngineSocket
}

// startReaper creates and starts the run's reaper container and connects
// to it. Once the container exists c.reaper.id is set, so that Close
// removes it whatever happens next.
func (c *Cluster) startReaper(ctx context.Context) error {
	var tok [16]byte
	rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	begin := time.Now()
	if err := c.launchReaper(ctx, token, reaperWait); err != nil {
		return err
	}
	actx, cancel := c.bounded(ctx, reaperConnectTimeout)
	defer cancel()
	conn, err := c.connectReaper(actx, token)
	if err != nil {
		return fmt.Errorf("reaper: %w", err)
	}
	c.reaper.conn = conn
	c.log.Debug("reaper armed", "container", c.reaper.name, "addr", c.reaper.addr, "after", time.Since(begin).Round(time.Millisecond))
	return nil
}

// launchReaper creates and starts the reaper container, which accepts the
// controller that says token and reaps when none did within wait. It runs
// as root (the engine's socket belongs to root) with every capability
// dropped, on the engine's default network, and the engine removes it when
// it exits.
func (c *Cluster) launchReaper(ctx context.Context, token string, wait time.Duration) error {
	raw, err := json.Marshal(reaperConfig{Run: c.cfg.RunID, Token: token, Wait: wait.String()})
	if err != nil {
		return fmt.Errorf("start reaper: %w", err)
	}
	c.reaper.name = "faultline-" + c.cfg.RunID + "-reaper"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start reaper: %w", context.Cause(ctx))
	}
	dctx, cancel := detached(ctx)
	defer cancel()
	useInit := true
	res, err := c.eng.ContainerCreate(dctx, client.ContainerCreateOptions{
		Name: c.reaper.name,
		Config: &container.Config{
			Image:        c.cfg.ReaperImage,
			Cmd:          []string{NodeBinary},
			Env:          []string{EnvReaper + "=" + string(raw), "DOCKER_HOST=unix://" + reaperSocket},
			Labels:       c.reaperLabels(),
			User:         "0:0",
			ExposedPorts: network.PortSet{reaperPort: {}},
		},
		HostConfig: &container.HostConfig{
			AutoRemove:   true,
			CapDrop:      []string{"ALL"},
			SecurityOpt:  []string{"no-new-privileges", "label=disable"},
			PortBindings: network.PortMap{reaperPort: {{HostIP: loopback}}},
			Mounts:       []mount.Mount{{Type: mount.TypeBind, Source: engineSocket(c.eng), Target: reaperSocket}},
			Init:         &useInit,
		},
	})
	if err != nil {
		return fmt.Errorf("create reaper from image %s: %w", c.cfg.ReaperImage, err)
	}
	c.reaper.id = res.ID
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start reaper: %w", context.Cause(ctx))
	}
	if _, err := c.eng.ContainerStart(dctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start reaper: %w", err)
	}
	return nil
}

// errReaperGone is returned by connectReaper when the reaper container
// stopped before it answered.
var errReaperGone = errors.New("container exited before it answered")

// connectReaper polls the reaper's published port until the reaper
// answers the hello, ctx ends or the reaper container is gone. The
// engine's port proxy may accept a connection before the reaper listens;
// such a connection ends without an answer and is tried again.
func (c *Cluster) connectReaper(ctx context.Context, token string) (net.Conn, error) {
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	var last error
	for {
		if c.reaper.addr == "" {
			c.reaper.addr, last = c.reaperAddr(ctx)
		}
		if c.reaper.addr != "" {
			conn, err := hello(ctx, c.reaper.addr, token)
			if err == nil {
				return conn, nil
			}
			var refused reaperRefusal
			if errors.As(err, &refused) {
				return nil, err
			}
			last = err
			if c.reaperGone(ctx) {
				last = errReaperGone
			}
		}
		if errors.Is(last, errReaperGone) {
			return nil, fmt.Errorf("%w (is %s in image %s a faultline binary that calls faultline.NodeMain first?)", last, NodeBinary, c.cfg.ReaperImage)
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = context.Cause(ctx)
			}
			return nil, fmt.Errorf("no answer within %s: %v", reaperConnectTimeout, last)
		case <-tick.C:
		}
	}
}

// reaperGone reports whether the reaper container is known to have
// stopped or gone.
func (c *Cluster) reaperGone(ctx context.Context) bool {
	in, err := c.eng.ContainerInspect(ctx, c.reaper.id, client.ContainerInspectOptions{})
	if err != nil {
		return cerrdefs.IsNotFound(err)
	}
	return in.Container.State != nil && !in.Container.State.Running
}

// reaperAddr returns where the reaper's port is published on 127.0.0.1,
// or "" while the engine has not published it yet.
func (c *Cluster) reaperAddr(ctx context.Context) (string, error) {
	in, err := c.eng.ContainerInspect(ctx, c.reaper.id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return "", errReaperGone
	}
	if err != nil {
		return "", fmt.Errorf("inspect reaper: %w", err)
	}
	if st := in.Container.State; st != nil && !st.Running {
		return "", errReaperGone
	}
	if ns := in.Container.NetworkSettings; ns != nil {
		for _, b := range ns.Ports[reaperPort] {
			if b.HostPort != "" && (!b.HostIP.IsValid() || b.HostIP == loopback) {
				return "127.0.0.1:" + b.HostPort, nil
			}
		}
	}
	return "", errors.New("reaper port not published yet")
}

// reaperRefusal is the reason a reaper gave for refusing its controller.
type reaperRefusal string

func (r reaperRefusal) Error() string { return string(r) }

// hello connects to the reaper at addr and says hello with token. It
// returns the connection once the reaper answered ok.
func hello(ctx context.Context, addr, token string) (net.Conn, error) {
	d := net.Dialer{Timeout: reaperHelloTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(reaperHelloTimeout))
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	line, err := exchange(conn, bufio.NewReader(conn), "hello "+token)
	if err != nil {
		conn.Close()
		return nil, err
	}
	switch {
	case line == "ok":
		conn.SetDeadline(time.Time{})
		return conn, nil
	case strings.HasPrefix(line, "error "):
		conn.Close()
		return nil, reaperRefusal(strings.TrimPrefix(line, "error "))
	}
	conn.Close()
	return nil, fmt.Errorf("unexpected answer %q", line)
}

// exchange writes line and returns the line read back, without its end.
func exchange(conn net.Conn, r *bufio.Reader, line string) (string, error) {
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(got), nil
}

// closeReaper ends the run's reaper. After a clean removal (clean), it
// says "done", so the reaper exits without reaping, and waits for the
// engine to remove it; otherwise it drops the connection, so the reaper
// tries the removal once more on its own, and leaves it to that. A reaper
// that never answered is removed by force. The caller holds mu.
func (c *Cluster) closeReaper(ctx context.Context, clean bool) error {
	if c.reaper.id == "" {
		return nil
	}
	conn := c.reaper.conn
	c.reaper.conn = nil
	if conn != nil {
		if !clean {
			conn.Close()
			c.log.Warn("the reaper takes over the removal of the run", "container", c.reaper.name)
			return nil
		}
		conn.SetDeadline(time.Now().Add(reaperHelloTimeout))
		line, err := exchange(conn, bufio.NewReader(conn), "done")
		conn.Close()
		if err == nil && line == "bye" {
			if c.waitReaperGone(ctx, reaperGoneTimeout) {
				return nil
			}
		} else {
			c.log.Warn("the reaper did not say bye", "answer", line, "err", err)
		}
	}
	// Remove it by force. A removal under way (AutoRemove) is a conflict;
	// wait for it to end.
	rctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	_, err := c.eng.ContainerRemove(rctx, c.reaper.id, client.ContainerRemoveOptions{Force: true})
	if err == nil || cerrdefs.IsNotFound(err) || (cerrdefs.IsConflict(err) && c.waitReaperGone(ctx, reaperGoneTimeout)) {
		return nil
	}
	return fmt.Errorf("remove reaper %s: %w", c.reaper.name, err)
}

// waitReaperGone polls until the engine no longer has the reaper
// container, for at most d, and reports whether it is gone.
func (c *Cluster) waitReaperGone(ctx context.Context, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := c.eng.ContainerInspect(ctx, c.reaper.id, client.ContainerInspectOptions{}); cerrdefs.IsNotFound(err) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// MainIfReaper returns at once unless the environment holds EnvReaper;
// then the process is a run's reaper: it serves its controller as the
// comment at the top of this file describes, reaps when the controller is
// gone, and exits the process. The faultline binary calls it first (from
// faultline.NodeMain), so that any node image can run a reaper.
func MainIfReaper() {
	raw, ok := os.LookupEnv(EnvReaper)
	if !ok {
		return
	}
	os.Exit(reaperMain(raw, os.Stdout))
}

// reaperMain is the reaper; it returns the exit code.
func reaperMain(raw string, out io.Writer) int {
	log := slog.New(slog.NewTextHandler(out, nil)).With("reaper", true)
	var cfg reaperConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		log.Error("bad configuration", "env", EnvReaper, "err", err)
		return 2
	}
	wait, err := time.ParseDuration(cfg.Wait)
	if err != nil || wait <= 0 || !runIDPattern.MatchString(cfg.Run) || cfg.Token == "" {
		log.Error("bad configuration", "env", EnvReaper, "run", cfg.Run, "wait", cfg.Wait)
		return 2
	}
	log = log.With("run", cfg.Run)
	ctx := context.Background()
	eng, engErr := Connect(ctx)
	if engErr == nil {
		defer eng.Close()
	}
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", ReaperPort))
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	conn, r, err := awaitController(ln, cfg.Token, wait, engErr, log)
	ln.Close()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		log.Warn("no controller connected; reaping", "wait", wait)
	case err != nil:
		log.Error("serve controller", "err", err)
		return 1
	default:
		done := holdController(conn, r, log)
		conn.Close()
		if done {
			log.Info("the controller closed the run; exiting")
			return 0
		}
	}
	if engErr != nil {
		log.Error("cannot reap", "err", engErr)
		return 1
	}
	if err := reap(ctx, eng, cfg.Run, log); err != nil {
		log.Error("reap", "err", err)
		return 1
	}
	return 0
}

// awaitController accepts connections until one says hello with token,
// answers it (ok, or the engine error when the engine cannot be reached)
// and returns it with its reader. It fails with os.ErrDeadlineExceeded
// when none does within wait.
func awaitController(ln net.Listener, token string, wait time.Duration, engErr error, log *slog.Logger) (net.Conn, *bufio.Reader, error) {
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(wait))
	for {
		conn, err := ln.Accept()
		if err != nil {
			return nil, nil, err
		}
		conn.SetDeadline(time.Now().Add(reaperHelloTimeout))
		r := bufio.NewReader(io.LimitReader(conn, 4096))
		line, err := r.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "hello "+token {
			log.Warn("refused a connection without the token", "from", conn.RemoteAddr())
			conn.Close()
			continue
		}
		if engErr != nil {
			fmt.Fprintf(conn, "error cannot reach the engine through %s: %s\n", reaperSocket, strings.Join(strings.Fields(engErr.Error()), " "))
			conn.Close()
			return nil, nil, engErr
		}
		if _, err := io.WriteString(conn, "ok\n"); err != nil {
			conn.Close()
			continue
		}
		conn.SetDeadline(time.Time{})
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetKeepAlive(true)
			tc.SetKeepAlivePeriod(5 * time.Second)
		}
		log.Info("controller connected", "from", conn.RemoteAddr())
		return conn, bufio.NewReader(conn), nil
	}
}

// holdController reads the controller's lines until it says done (then
// it answers bye and returns true) or the connection ends (false).
func holdController(conn net.Conn, r *bufio.Reader, log *slog.Logger) bool {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			log.Warn("the controller is gone; reaping", "err", err)
			return false
		}
		if strings.TrimSpace(line) == "done" {
			conn.SetWriteDeadline(time.Now().Add(reaperHelloTimeout))
			io.WriteString(conn, "bye\n")
			return true
		}
	}
}

// reap removes every container (paused ones included) and then every
// network labelled faultline=1 and faultline.run=runID, except the run's
// reaper container, and writes what it removed to log. It repeats the
// removal until two passes in a row find nothing, so that an object whose
// creation was under way is caught too, for at most two minutes. It never
// touches an object without both labels.
func reap(ctx context.Context, eng Engine, runID string, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, reapTimeout)
	defer cancel()
	keep := func(labels map[string]string) bool {
		return labels[LabelFaultline] == "1" && labels[LabelRun] == runID && labels[LabelReaper] != "1"
	}
	begin := time.Now()
	var err error
	for quiet := 0; quiet < 2; {
		var removed []string
		removed, err = removeLabelled(ctx, eng, labelFilter(LabelRun, runID), keep, nil)
		for _, r := range removed {
			log.Info("removed", "what", r)
		}
		if len(removed) == 0 && err == nil {
			quiet++
		} else {
			quiet = 0
		}
		if quiet == 2 {
			break
		}
		select {
		case <-ctx.Done():
			return lifecycle.JoinErrors(err, fmt.Errorf("reap run %s: %w", runID, ctx.Err()))
		case <-time.After(reapSettle):
		}
	}
	log.Info("reaped the run", "after", time.Since(begin).Round(time.Millisecond))
	return nil
}
