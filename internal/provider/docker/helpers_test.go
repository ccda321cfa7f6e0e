package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/faultline/faultline/internal/images"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets/demokv"
)

// The tests below need a Docker engine and the node image. Under CI they
// run, never skip: a missing engine fails them. Elsewhere they skip when
// no engine answers, saying so (testenv.NeedDocker). The node image is
// built (once per test binary, from this working tree) with the images
// package; on a machine without the Debian base this takes several
// minutes, so run them with a generous -timeout:
//
//	go test -count=1 -timeout 30m -v ./internal/provider/docker
//
// FAULTLINE_TEST_NODE_IMAGE=<tag> uses that node image instead.

// engine connects to the Docker engine, or skips (fails in CI) when none
// answers.
func engine(t testing.TB) *client.Client {
	t.Helper()
	testenv.NeedDocker(t)
	cli, err := Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// envTestImage names a node image for the tests to use instead of
// building one from the working tree.
const envTestImage = "FAULTLINE_TEST_NODE_IMAGE"

var nodeImage = sync.OnceValues(func() (string, error) {
	if tag := os.Getenv(envTestImage); tag != "" {
		return tag, nil
	}
	return buildImage(images.Dockerfile)
})

// buildImage builds the image of recipe dockerfile with a faultline binary
// built from this working tree, or finds it built.
func buildImage(dockerfile string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	cli, err := Connect(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := images.ModuleRoot(wd)
	if err != nil {
		return "", err
	}
	bin, err := images.BuildBinary(ctx, root)
	if err != nil {
		return "", err
	}
	return images.EnsureImage(ctx, cli, dockerfile, bin, os.Stderr)
}

// image returns the node image tag, building it the first time.
func image(t testing.TB) string {
	t.Helper()
	tag, err := nodeImage()
	if err != nil {
		t.Fatalf("node image: %v", err)
	}
	return tag
}

// testRunID returns a fresh run id marked as a test's.
func testRunID() string {
	return "test-" + NewRunID(time.Now())
}

func testConfig(t testing.TB, eng Engine, nodes int, variant string) Config {
	t.Helper()
	return Config{
		Target:       demokv.New(),
		Variant:      variant,
		Nodes:        nodes,
		Dir:          t.TempDir(),
		Image:        image(t),
		RunID:        testRunID(),
		Engine:       eng,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		ReadyTimeout: 60 * time.Second,
		StopGrace:    2 * time.Second,
	}
}

// startCluster starts a demo-kv cluster and registers a cleanup that
// closes it and checks that the engine holds nothing of the run.
func startCluster(t testing.TB, eng *client.Client, nodes int, variant string) *Cluster {
	t.Helper()
	cfg := testConfig(t, eng, nodes, variant)
	begin := time.Now()
	c, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("cluster of %d started in %v", nodes, time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkNothingLeft(t, eng, cfg.RunID)
	})
	return c
}

// checkNothingLeft lists the containers and networks labelled with runID
// and fails the test when there are any.
func checkNothingLeft(t testing.TB, eng Engine, runID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := labelFilter(LabelRun, runID)
	cs, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	for _, ct := range cs.Items {
		t.Errorf("container %v (%s) of run %s left behind", ct.Names, ct.State, runID)
	}
	ns, err := eng.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatalf("list networks: %v", err)
	}
	for _, n := range ns.Items {
		t.Errorf("network %s of run %s left behind", n.Name, runID)
	}
}

// probeFromInside tries a TCP connection from inside node from's
// container to node to's peer port, waiting at most wait, and reports
// whether packets flow (connected or refused) or are dropped (timed out).
// It is the tests' own probe, independent of the provider's.
func probeFromInside(ctx context.Context, t *testing.T, c *Cluster, from, to string, wait time.Duration) bool {
	t.Helper()
	ip, _ := c.IP(to)
	id, _ := c.ContainerID(from)
	script := fmt.Sprintf("timeout %.2f bash -c 'echo > /dev/tcp/%s/%d' 2>/dev/null; echo $?", wait.Seconds(), ip, PeerPort)
	res, err := Exec(ctx, c.eng, id, nil, "bash", "-c", script)
	if err != nil {
		t.Fatalf("probe %s->%s: %v", from, to, err)
	}
	code, err := strconv.Atoi(strings.TrimSpace(res.Stdout))
	if err != nil {
		t.Fatalf("probe %s->%s: output %q", from, to, res.Stdout)
	}
	return code != 124
}

// reachability probes every ordered pair of nodes at once and returns the
// pairs that drop traffic, as "a->b".
func reachability(t *testing.T, c *Cluster, nodes []string) []string {
	t.Helper()
	var mu sync.Mutex
	var dropped []string
	var wg sync.WaitGroup
	for _, a := range nodes {
		for _, b := range nodes {
			if a == b {
				continue
			}
			wg.Go(func() {
				if !probeFromInside(t.Context(), t, c, a, b, time.Second) {
					mu.Lock()
					dropped = append(dropped, a+"->"+b)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	slices.Sort(dropped)
	return dropped
}

// chainRules returns the rules of chain in node's namespace, as
// `iptables -S` prints them, without the -N line.
func chainRules(t *testing.T, c *Cluster, node, chain string) []string {
	t.Helper()
	id, _ := c.ContainerID(node)
	res, err := Exec(t.Context(), c.eng, id, nil, "iptables", "-w", "5", "-S", chain)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("iptables -S %s in %s: %v %s", chain, node, err, res.Stderr)
	}
	var out []string
	for _, l := range strings.Split(res.Stdout, "\n") {
		if strings.HasPrefix(l, "-A ") {
			out = append(out, l)
		}
	}
	return out
}

// kv talks to a demo-kv node's API directly.
type kv struct {
	addr string
	hc   *http.Client
}

func newKV(addr string, timeout time.Duration) kv {
	return kv{addr: addr, hc: &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}}
}

func (k kv) write(key string, v int64) error {
	req, _ := http.NewRequest(http.MethodPut, "http://"+k.addr+demokv.RouteKV+key, strings.NewReader(fmt.Sprintf(`{"value":%d}`, v)))
	resp, err := k.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("write %s: status %d", key, resp.StatusCode)
	}
	return nil
}

// read returns the key's value, or -1 when it is unset.
func (k kv) read(key string) (int64, error) {
	resp, err := k.hc.Get("http://" + k.addr + demokv.RouteKV + key)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r demokv.Reply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("read %s: status %d: %s", key, resp.StatusCode, r.Error)
	}
	if r.Value == nil {
		return -1, nil
	}
	return *r.Value, nil
}

// eventually reports whether cond holds within d, polled by testenv.Poll.
func eventually(d time.Duration, cond func() bool) bool {
	return testenv.Poll(d, func() error {
		if !cond() {
			return testenv.ErrNotYet
		}
		return nil
	}) == nil
}

func isTimeout(err error) bool {
	var ue interface{ Timeout() bool }
	return errors.As(err, &ue) && ue.Timeout()
}
