// Package composestack is the Compose stack the compose provider's tests
// run on, as a user would bring one: three services (a, b, c) of a tiny
// HTTP server (testdata/server) built static into an image FROM scratch,
// with no shell and no iptables, brought up with Compose under a project
// named fltest-…; and Register, a target defined outside faultline's
// registry whose clients use the register of service a. It also builds
// faultline's node image from this source for the tests. No program of
// faultline's imports it.
//
// Everything it creates carries the labels faultline=1 and faultline.run
// with an id of the stack's own (the stack's containers and network), or
// is an image labelled faultline=1, faultline.role=test.
package composestack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/faultline/faultline/internal/images"
	"github.com/faultline/faultline/internal/testenv"
)

// Services are the stack's services, in cluster order. Service a has a
// healthcheck (the server asking itself), b and c have none.
var Services = []string{"a", "b", "c"}

// Port is where every node's server listens.
const Port = 8080

// EnvNodeImage names a node image for the tests to use instead of
// building one from this source.
const EnvNodeImage = "FAULTLINE_TEST_NODE_IMAGE"

// buildTimeout bounds a build of the node image or the server image.
const buildTimeout = 25 * time.Minute

// nodeBinary holds a static faultline built from this source, once per
// process. It is built to a folder of its own, not images.BuildBinary's
// cache file, which a build of another checkout may replace meanwhile.
var nodeBinary = sync.OnceValues(func() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fltest-faultline-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// As images.BuildBinary builds it: the same source gives the same bytes.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w",
		"-o", filepath.Join(dir, "faultline"), "./cmd/faultline")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build a static faultline: %v: %s", err, out)
	}
	return os.ReadFile(filepath.Join(dir, "faultline"))
})

// writeNodeBinary writes the static faultline of nodeBinary into dir.
func writeNodeBinary(dir string) (string, error) {
	b, err := nodeBinary()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "faultline")
	return path, os.WriteFile(path, b, 0o755)
}

// NodeBinary returns the path, in a folder of t's, of a static faultline
// binary built from this source (once per process): what the compose
// provider puts into the node image.
func NodeBinary(t testing.TB) string {
	t.Helper()
	path, err := writeNodeBinary(t.TempDir())
	if err != nil {
		t.Fatalf("static faultline: %v", err)
	}
	return path
}

var nodeImage = sync.OnceValues(func() (string, error) {
	if tag := os.Getenv(EnvNodeImage); tag != "" {
		return tag, nil
	}
	dir, err := os.MkdirTemp("", "fltest-faultline-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin, err := writeNodeBinary(dir)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cli, err := images.Connect(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	return images.EnsureNode(ctx, cli, bin, os.Stderr)
})

// NodeImage returns faultline's node image built from this source (once
// per process), or the image EnvNodeImage names.
func NodeImage(t testing.TB) string {
	t.Helper()
	tag, err := nodeImage()
	if err != nil {
		t.Fatalf("node image: %v", err)
	}
	return tag
}

// moduleRoot returns the root of this module's source.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return images.ModuleRoot(wd)
}

// serverDockerfile is the server's image: the binary alone.
const serverDockerfile = `FROM scratch
COPY server /server
EXPOSE 8080
ENTRYPOINT ["/server"]
LABEL faultline=1 faultline.role=test
`

var serverImage = sync.OnceValues(func() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "fltest-server-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "server"), "./internal/testtargets/composestack/testdata/server")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the server: %v: %s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "server"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append([]byte(serverDockerfile), bin...))
	tag := "fltest-scratch-server:" + hex.EncodeToString(sum[:6])
	if exec.CommandContext(ctx, "docker", "image", "inspect", tag).Run() == nil {
		return tag, nil
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(serverDockerfile), 0o644); err != nil {
		return "", err
	}
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the server image: %v: %s", err, out)
	}
	return tag, nil
})

// composeFile is the stack: {{image}} and {{id}} are filled in.
const composeFile = `version: "2.4"
services:
  a:
    image: {{image}}
    labels: {faultline: "1", faultline.run: "{{id}}"}
    healthcheck:
      test: ["CMD", "/server", "-health"]
      interval: 1s
      timeout: 1s
      retries: 3
  b:
    image: {{image}}
    labels: {faultline: "1", faultline.run: "{{id}}"}
  c:
    image: {{image}}
    labels: {faultline: "1", faultline.run: "{{id}}"}
networks:
  default:
    labels: {faultline: "1", faultline.run: "{{id}}"}
`

// Stack is a running test stack.
type Stack struct {
	// Project is the Compose project, fltest-<name>-<random>.
	Project string
	// ID is the value of the faultline.run label on the stack's containers
	// and network.
	ID string
	// Engine is a client of the engine, closed when the test ends.
	Engine *client.Client
	file   string
	cmd    []string
}

// ComposeCommand returns the Compose command line there is: docker-compose
// (v1), else docker compose (v2); it ends t (skip, or fail under CI) when
// there is neither.
func ComposeCommand(t testing.TB) []string {
	t.Helper()
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	testenv.NeedBinary(t, "docker-compose", "docker-compose")
	return nil
}

// Up brings a fresh stack up (docker compose up -d, waiting until service
// a is healthy) and registers its removal (docker compose down) for the
// end of the test. It ends t (skip, or fail under CI) without a Docker
// engine or Compose.
func Up(t testing.TB, name string) *Stack {
	t.Helper()
	testenv.NeedDocker(t)
	cmd := ComposeCommand(t)
	img, err := serverImage()
	if err != nil {
		t.Fatalf("server image: %v", err)
	}
	var b [3]byte
	rand.Read(b[:])
	s := &Stack{Project: "fltest-" + name + "-" + hex.EncodeToString(b[:]), cmd: cmd}
	s.ID = s.Project
	s.file = filepath.Join(t.TempDir(), "compose.yaml")
	spec := strings.NewReplacer("{{image}}", img, "{{id}}", s.ID).Replace(composeFile)
	if err := os.WriteFile(s.file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := s.compose(ctx, "down", "-t", "1", "--remove-orphans"); err != nil {
			t.Errorf("compose down %s: %v: %s", s.Project, err, out)
		}
	})
	begin := time.Now()
	if out, err := s.compose(ctx, "up", "-d"); err != nil {
		t.Fatalf("compose up %s: %v: %s", s.Project, err, out)
	}
	if s.Engine, err = client.New(client.FromEnv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Engine.Close() })
	testenv.Eventually(t, time.Minute, "the stack's nodes run, a healthy", func() error { return s.Pristine(context.Background()) })
	t.Logf("stack %s up in %v", s.Project, time.Since(begin).Round(time.Millisecond))
	return s
}

// compose runs Compose on the stack.
func (s *Stack) compose(ctx context.Context, args ...string) ([]byte, error) {
	argv := append(slices.Clone(s.cmd[1:]), append([]string{"-p", s.Project, "-f", s.file}, args...)...)
	c := exec.CommandContext(ctx, s.cmd[0], argv...)
	c.Dir = filepath.Dir(s.file)
	return c.CombinedOutput()
}

// Node is a node container as the engine sees it now.
type Node struct {
	ID                string
	Running, Paused   bool
	Health            string // "" without a healthcheck
	IP                netip.Addr
	StartedAt, Status string
}

// Node returns service's container as the engine sees it now.
func (s *Stack) Node(ctx context.Context, service string) (Node, error) {
	res, err := s.Engine.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).
		Add("label", "com.docker.compose.project="+s.Project).Add("label", "com.docker.compose.service="+service)})
	if err != nil {
		return Node{}, err
	}
	if len(res.Items) != 1 {
		return Node{}, fmt.Errorf("service %s has %d containers, want 1", service, len(res.Items))
	}
	in, err := s.Engine.ContainerInspect(ctx, res.Items[0].ID, client.ContainerInspectOptions{})
	if err != nil {
		return Node{}, err
	}
	st := in.Container.State
	n := Node{ID: in.Container.ID, Running: st.Running, Paused: st.Paused, StartedAt: st.StartedAt, Status: string(st.Status)}
	if st.Health != nil {
		n.Health = string(st.Health.Status)
	}
	if ep := in.Container.NetworkSettings.Networks[s.Project+"_default"]; ep != nil {
		n.IP = ep.IPAddress
	}
	return n, nil
}

// Pristine returns nil when every node runs, unpaused, with its address,
// service a healthy: the stack as a run must leave it.
func (s *Stack) Pristine(ctx context.Context) error {
	for _, svc := range Services {
		n, err := s.Node(ctx, svc)
		switch {
		case err != nil:
			return err
		case !n.Running || n.Paused:
			return fmt.Errorf("node %s is %s", svc, n.Status)
		case !n.IP.IsValid():
			return fmt.Errorf("node %s has no address", svc)
		case svc == "a" && n.Health != "healthy":
			return fmt.Errorf("node a is %q, not healthy", n.Health)
		}
	}
	return nil
}

// Reach reports whether service from's server connects to service to's
// (a connection, or a refusal, within 300ms) when asked through its /dial
// endpoint; an error means from did not answer.
func (s *Stack) Reach(ctx context.Context, from, to string) (bool, error) {
	f, err := s.Node(ctx, from)
	if err != nil {
		return false, err
	}
	tn, err := s.Node(ctx, to)
	if err != nil {
		return false, err
	}
	u := (&url.URL{Scheme: "http", Host: netip.AddrPortFrom(f.IP, Port).String(), Path: "/dial",
		RawQuery: url.Values{"ms": {"300"}, "addr": {netip.AddrPortFrom(tn.IP, Port).String()}}.Encode()}).String()
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	switch res.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusServiceUnavailable:
		return false, nil
	}
	return false, fmt.Errorf("dial from %s: %s %s", from, res.Status, body)
}

// Chains returns the lines of `iptables -S` in service's network
// namespace that name faultline's chains, read from a container of the
// node image that joins the namespace for the time of the command.
func (s *Stack) Chains(t testing.TB, service string) []string {
	t.Helper()
	n, err := s.Node(context.Background(), service)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--network", "container:"+n.ID, "--cap-add", "NET_ADMIN",
		"--label", "faultline=1", "--label", "faultline.run="+s.ID, "--user", "0:0", NodeImage(t), "iptables", "-w", "5", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -S in node %s: %v: %s", service, err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "FAULTLINE") {
			lines = append(lines, l)
		}
	}
	return lines
}

// Labelled lists the containers and networks labelled faultline.run=runID,
// by name.
func (s *Stack) Labelled(ctx context.Context, runID string) ([]string, error) {
	f := make(client.Filters).Add("label", "faultline.run="+runID)
	cs, err := s.Engine.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	ns, err := s.Engine.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cs.Items {
		out = append(out, "container "+strings.TrimPrefix(c.Names[0], "/")+" "+string(c.State))
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	return out, nil
}

// CheckAsFound fails t unless the stack is as a run must leave it, within
// 30 seconds (a reaper may still be at work): every node running,
// unpaused, a healthy; no container or network of run runID left; then no
// faultline chain in any node, and every node reaching every other.
func (s *Stack) CheckAsFound(t testing.TB, runID string) {
	t.Helper()
	ctx := context.Background()
	testenv.Eventually(t, 30*time.Second, "the stack as it was found and nothing of run "+runID+" left", func() error {
		if err := s.Pristine(ctx); err != nil {
			return err
		}
		left, err := s.Labelled(ctx, runID)
		if err == nil && len(left) > 0 {
			err = fmt.Errorf("the run left %v", left)
		}
		return err
	})
	for _, svc := range Services {
		if left := s.Chains(t, svc); len(left) > 0 {
			t.Errorf("node %s keeps faultline's rules: %v", svc, left)
		}
	}
	for _, from := range Services {
		for _, to := range Services {
			if from == to {
				continue
			}
			if ok, err := s.Reach(ctx, from, to); err != nil || !ok {
				t.Errorf("%s does not reach %s after the run: %v", from, to, err)
			}
		}
	}
}

// Runner builds the test program testdata/runner into a folder of t's
// (removed when t ends) and returns its path: a main package that runs a
// test of Register on a stack through faultline.Run, as a user's own
// program would (its flags: see the program).
func Runner(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "runner")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", path, "./internal/testtargets/composestack/testdata/runner")
	build.Dir = root
	var out bytes.Buffer
	build.Stdout, build.Stderr = &out, &out
	begin := time.Now()
	if err := build.Run(); err != nil {
		t.Fatalf("build the runner: %v: %s", err, out.String())
	}
	t.Logf("runner built in %v", time.Since(begin).Round(time.Millisecond))
	return path
}
