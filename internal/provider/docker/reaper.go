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
// controller connects within the reaper's wait, the reaper first restores
// the node containers of the run's helper containers (a compose run's: see
// RestoreHelped; those nodes are the user's and are never removed), then
// removes every container and network labelled with its run id (paused
// ones are resumed first), never anything else, and exits; the engine then
// removes the reaper itself (AutoRemove). Close removes the run's objects
// itself and then says "done", so a clean end leaves no reaper behind. It
// works on labels alone, whatever containers the run is made of; the
// docker provider's Cluster and the compose provider each start one
// (StartReaper).
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

// Reaper is the controller's side of a run's reaper: the container and
// the connection the controller holds to it. The docker provider's
// Cluster starts one for its run; other providers that create containers
// start one with StartReaper. Its methods are not safe for concurrent use.
type Reaper struct {
	eng   Engine
	runID string
	image string
	log   *slog.Logger

	name string
	id   string // set once the container exists
	addr string // the published port on 127.0.0.1
	conn net.Conn
}

// StartReaper starts the reaper of run runID from image (a node image:
// its faultline binary at NodeBinary must call MainIfReaper first, as
// faultline.NodeMain does) and connects to it. From then on, when the
// controller dies without Close, the reaper restores the nodes of the
// run's helper containers (RestoreHelped) and removes every container and
// network labelled with the run id. When StartReaper fails it removes
// what it created. The caller closes the returned Reaper once it has
// removed the run's objects itself.
func StartReaper(ctx context.Context, eng Engine, runID, image string, log *slog.Logger) (*Reaper, error) {
	if err := CheckRunID(runID); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reaper{eng: eng, runID: runID, image: image, log: log}
	if err := r.start(ctx); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
		defer cancel()
		if cerr := r.Close(cctx, false); cerr != nil {
			err = lifecycle.JoinErrors(err, cerr)
		}
		return nil, err
	}
	return r, nil
}

// Name returns the reaper container's name ("" before it exists).
func (r *Reaper) Name() string { return r.name }

// ID returns the reaper container's id ("" before it exists).
func (r *Reaper) ID() string { return r.id }

// Addr returns where the reaper's port is published on 127.0.0.1 ("" until
// known).
func (r *Reaper) Addr() string { return r.addr }

// labels returns the labels of the run's reaper container.
func (r *Reaper) labels() map[string]string {
	return map[string]string{LabelFaultline: "1", LabelRun: r.runID, LabelReaper: "1"}
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
// to it. Once the container exists c.reaper's id is set, so that Close
// removes it whatever happens next.
func (c *Cluster) startReaper(ctx context.Context) error {
	c.reaper = &Reaper{eng: c.eng, runID: c.cfg.RunID, image: c.cfg.ReaperImage, log: c.log}
	return c.reaper.start(ctx)
}

// start creates and starts the reaper container and connects to it.
func (r *Reaper) start(ctx context.Context) error {
	var tok [16]byte
	rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	begin := time.Now()
	if err := r.launch(ctx, token, reaperWait); err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, reaperConnectTimeout)
	defer cancel()
	conn, err := r.connect(actx, token)
	if err != nil {
		return fmt.Errorf("reaper: %w", err)
	}
	r.conn = conn
	r.log.Debug("reaper armed", "container", r.name, "addr", r.addr, "after", time.Since(begin).Round(time.Millisecond))
	return nil
}

// launch creates and starts the reaper container, which accepts the
// controller that says token and reaps when none did within wait. It runs
// as root (the engine's socket belongs to root) with every capability
// dropped, on the engine's default network, and the engine removes it when
// it exits.
func (r *Reaper) launch(ctx context.Context, token string, wait time.Duration) error {
	raw, err := json.Marshal(reaperConfig{Run: r.runID, Token: token, Wait: wait.String()})
	if err != nil {
		return fmt.Errorf("start reaper: %w", err)
	}
	r.name = "faultline-" + r.runID + "-reaper"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start reaper: %w", context.Cause(ctx))
	}
	dctx, cancel := detached(ctx)
	defer cancel()
	useInit := true
	res, err := r.eng.ContainerCreate(dctx, client.ContainerCreateOptions{
		Name: r.name,
		Config: &container.Config{
			Image:        r.image,
			Cmd:          []string{NodeBinary},
			Env:          []string{EnvReaper + "=" + string(raw), "DOCKER_HOST=unix://" + reaperSocket},
			Labels:       r.labels(),
			User:         "0:0",
			ExposedPorts: network.PortSet{reaperPort: {}},
		},
		HostConfig: &container.HostConfig{
			AutoRemove:   true,
			CapDrop:      []string{"ALL"},
			SecurityOpt:  []string{"no-new-privileges", "label=disable"},
			PortBindings: network.PortMap{reaperPort: {{HostIP: loopback}}},
			Mounts:       []mount.Mount{{Type: mount.TypeBind, Source: engineSocket(r.eng), Target: reaperSocket}},
			Init:         &useInit,
		},
	})
	if err != nil {
		return fmt.Errorf("create reaper from image %s: %w", r.image, err)
	}
	r.id = res.ID
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start reaper: %w", context.Cause(ctx))
	}
	if _, err := r.eng.ContainerStart(dctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start reaper: %w", err)
	}
	return nil
}

// errReaperGone is returned by connect when the reaper container
// stopped before it answered.
var errReaperGone = errors.New("container exited before it answered")

// connect polls the reaper's published port until the reaper answers the
// hello, ctx ends or the reaper container is gone. The engine's port proxy
// may accept a connection before the reaper listens; such a connection
// ends without an answer and is tried again.
func (r *Reaper) connect(ctx context.Context, token string) (net.Conn, error) {
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	var last error
	for {
		if r.addr == "" {
			r.addr, last = r.publishedAddr(ctx)
		}
		if r.addr != "" {
			conn, err := hello(ctx, r.addr, token)
			if err == nil {
				return conn, nil
			}
			var refused reaperRefusal
			if errors.As(err, &refused) {
				return nil, err
			}
			last = err
			if r.gone(ctx) {
				last = errReaperGone
			}
		}
		if errors.Is(last, errReaperGone) {
			return nil, fmt.Errorf("%w (is %s in image %s a faultline binary that calls faultline.NodeMain first?)", last, NodeBinary, r.image)
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

// gone reports whether the reaper container is known to have stopped or
// gone.
func (r *Reaper) gone(ctx context.Context) bool {
	in, err := r.eng.ContainerInspect(ctx, r.id, client.ContainerInspectOptions{})
	if err != nil {
		return cerrdefs.IsNotFound(err)
	}
	return in.Container.State != nil && !in.Container.State.Running
}

// publishedAddr returns where the reaper's port is published on
// 127.0.0.1, or "" while the engine has not published it yet.
func (r *Reaper) publishedAddr(ctx context.Context) (string, error) {
	in, err := r.eng.ContainerInspect(ctx, r.id, client.ContainerInspectOptions{})
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

// closeReaper ends the run's reaper (see Reaper.Close). The caller holds
// mu.
func (c *Cluster) closeReaper(ctx context.Context, clean bool) error {
	if c.reaper == nil {
		return nil
	}
	return c.reaper.Close(ctx, clean)
}

// Close ends the reaper. After a clean removal of the run's objects by
// the controller (clean), it says "done", so the reaper exits without
// reaping, and waits for the engine to remove it; otherwise it drops the
// connection, so the reaper restores and removes the run on its own, and
// leaves it to that. A reaper that never answered is removed by force.
// Close is idempotent once it returned nil.
func (r *Reaper) Close(ctx context.Context, clean bool) error {
	if r.id == "" {
		return nil
	}
	conn := r.conn
	r.conn = nil
	if conn != nil {
		if !clean {
			conn.Close()
			r.log.Warn("the reaper takes over the removal of the run", "container", r.name)
			return nil
		}
		conn.SetDeadline(time.Now().Add(reaperHelloTimeout))
		line, err := exchange(conn, bufio.NewReader(conn), "done")
		conn.Close()
		if err == nil && line == "bye" {
			if r.waitGone(ctx, reaperGoneTimeout) {
				r.id = ""
				return nil
			}
		} else {
			r.log.Warn("the reaper did not say bye", "answer", line, "err", err)
		}
	}
	// Remove it by force. A removal under way (AutoRemove) is a conflict;
	// wait for it to end.
	rctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	_, err := r.eng.ContainerRemove(rctx, r.id, client.ContainerRemoveOptions{Force: true})
	if err == nil || cerrdefs.IsNotFound(err) || (cerrdefs.IsConflict(err) && r.waitGone(ctx, reaperGoneTimeout)) {
		r.id = ""
		return nil
	}
	return fmt.Errorf("remove reaper %s: %w", r.name, err)
}

// waitGone polls until the engine no longer has the reaper container,
// for at most d, and reports whether it is gone.
func (r *Reaper) waitGone(ctx context.Context, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := r.eng.ContainerInspect(ctx, r.id, client.ContainerInspectOptions{}); cerrdefs.IsNotFound(err) {
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

// reap gives back the nodes of the run's helper containers and removes
// those helpers (RestoreHelped), then removes every container (paused
// ones included) and then every network labelled faultline=1 and
// faultline.run=runID, except the run's reaper container, and writes what
// it did to log. It repeats the removal until two passes in a row find
// nothing, so that an object whose
// creation was under way is caught too, for at most two minutes. It never
// touches an object without both labels.
func reap(ctx context.Context, eng Engine, runID string, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, reapTimeout)
	defer cancel()
	keep := func(labels map[string]string) bool {
		// Helpers go with RestoreHelped, once their nodes are restored.
		return labels[LabelFaultline] == "1" && labels[LabelRun] == runID && labels[LabelReaper] != "1" && !IsHelper(labels)
	}
	begin := time.Now()
	var err error
	for quiet := 0; quiet < 2; {
		restored, herr := RestoreHelped(ctx, eng, runID, LogLines(log))
		removed, rerr := removeLabelled(ctx, eng, labelFilter(LabelRun, runID), keep, nil)
		err = lifecycle.JoinErrors(herr, rerr)
		for _, r := range removed {
			log.Info("removed", "what", r)
		}
		if len(restored)+len(removed) == 0 && err == nil {
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

// LogLines returns a writer that writes each line written to it to log,
// at level info, leaving out empty lines.
func LogLines(log *slog.Logger) io.Writer { return logWriter{log} }

// logWriter is LogLines' writer.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		if line != "" {
			w.log.Info(line)
		}
	}
	return len(p), nil
}
