package images

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/internal/testenv"
)

// labelTest marks the containers these tests create, so that they can be
// found and removed.
const labelTest = "faultline.test"

// engine connects to the Docker engine. Under CI a missing engine fails
// the test; elsewhere it skips it, saying why (testenv.NeedDocker).
func engine(t *testing.T) *client.Client {
	t.Helper()
	testenv.NeedDocker(t)
	cli, err := Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	t.Logf("engine at %s, API version %s", cli.DaemonHost(), cli.ClientVersion())
	return cli
}

// testWriter writes progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// runIn runs script with sh in a container of image and returns its exit
// code and output. The container is labelled and removed afterwards.
func runIn(ctx context.Context, t *testing.T, cli *client.Client, image, script string) (int64, string) {
	t.Helper()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Image: image,
		Config: &container.Config{
			Cmd:    []string{"sh", "-c", script},
			Labels: map[string]string{Label: "1", labelTest: t.Name()},
		},
	})
	if err != nil {
		t.Fatalf("create container of %s: %v", image, err)
	}
	defer func() {
		if _, err := cli.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("remove container %s: %v", created.ID, err)
		}
	}()
	wait := cli.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start container of %s: %v", image, err)
	}
	var code int64
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	select {
	case <-ctx.Done():
		t.Fatalf("container of %s still running after 2 minutes", image)
	case res := <-wait.Result:
		code = res.StatusCode
	case err := <-wait.Error:
		t.Fatalf("wait for container of %s: %v", image, err)
	}
	logs, err := cli.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("logs of container of %s: %v", image, err)
	}
	defer logs.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, logs); err != nil {
		t.Fatalf("logs of container of %s: %v", image, err)
	}
	return code, out.String()
}

// nodeScript checks what every target needs in the generic node image: the
// faultline binary and the tools of the network faults.
const nodeScript = `set -e
faultline version
for c in iptables ip; do command -v "$c"; done
echo node-ok
`

func TestEnsureNode(t *testing.T) {
	cli := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := BuildBinary(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckStatic(bin); err != nil {
		t.Fatalf("BuildBinary made a binary that is not static: %v", err)
	}

	var progress bytes.Buffer
	start := time.Now()
	tag, err := EnsureNode(ctx, cli, bin, io.MultiWriter(&progress, testWriter{t}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first EnsureNode: %s in %s", tag, time.Since(start).Round(time.Millisecond))
	for _, l := range strings.Split(progress.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "{") {
			t.Errorf("progress has raw JSON: %s", l)
		}
	}
	first, err := cli.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if first.Config == nil || first.Config.Labels[Label] != "1" || first.Config.Labels[LabelRole] != "node" ||
		!strings.HasPrefix(first.Config.Labels[LabelInputs], strings.TrimPrefix(tag, NodeRepo+":")) {
		t.Errorf("labels of %s: %+v", tag, first.Config)
	}

	code, out := runIn(ctx, t, cli, tag, nodeScript)
	if code != 0 || !strings.Contains(out, "faultline ") || !strings.HasSuffix(out, "node-ok\n") {
		t.Fatalf("node image %s: exit %d, output:\n%s", tag, code, out)
	}

	t.Run("same inputs are not rebuilt", func(t *testing.T) {
		start := time.Now()
		var progress bytes.Buffer
		again, err := EnsureNode(ctx, cli, bin, &progress)
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("second EnsureNode: %s in %s: %s", again, took.Round(time.Millisecond), strings.TrimSpace(progress.String()))
		second, err := cli.ImageInspect(ctx, again)
		if err != nil {
			t.Fatal(err)
		}
		if again != tag || second.ID != first.ID {
			t.Fatalf("second EnsureNode gave %s (%s), want %s (%s)", again, second.ID, tag, first.ID)
		}
		if strings.Contains(progress.String(), "build:") {
			t.Fatalf("second EnsureNode ran a build:\n%s", progress.String())
		}
		if took > 5*time.Second {
			t.Fatalf("second EnsureNode took %s; it only hashes the binary and asks the engine", took)
		}
	})

	t.Run("a changed binary gets a new tag", func(t *testing.T) {
		// Bytes appended to an ELF file leave it runnable.
		changed := filepath.Join(t.TempDir(), "faultline")
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(changed, append(b, "\x00changed by TestEnsureNode"...), 0o755); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		other, err := EnsureNode(ctx, cli, changed, testWriter{t})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("changed binary: %s in %s", other, time.Since(start).Round(time.Millisecond))
		t.Cleanup(func() {
			if _, err := cli.ImageRemove(context.Background(), other, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
				t.Errorf("remove %s: %v", other, err)
			}
		})
		if other == tag {
			t.Fatalf("a changed binary kept the tag %s", tag)
		}
		img, err := cli.ImageInspect(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		// Only the binary's layer differs: the package layer came from the cache.
		l1, l2 := first.RootFS.Layers, img.RootFS.Layers
		if len(l1) != len(l2) || len(l1) < 2 || !slices.Equal(l1[:len(l1)-1], l2[:len(l2)-1]) || l1[len(l1)-1] == l2[len(l2)-1] {
			t.Errorf("layers of %s and %s should differ in the last one only:\n%v\n%v", tag, other, l1, l2)
		}
		if code, out := runIn(ctx, t, cli, other, "faultline version"); code != 0 || !strings.HasPrefix(out, "faultline ") {
			t.Fatalf("changed node image %s: exit %d, output:\n%s", other, code, out)
		}
	})

	t.Run("list shows both images", func(t *testing.T) {
		list, err := List(ctx, cli)
		if err != nil {
			t.Fatal(err)
		}
		var node, base bool
		for _, im := range list {
			node = node || slices.Contains(im.Tags, tag) && im.Role == "node"
			base = base || im.Role == "base" || slices.Contains(im.Tags, BaseImage)
		}
		if !node {
			t.Errorf("List lacks %s: %+v", tag, list)
		}
		if _, err := cli.ImageInspect(ctx, BaseImage); err != nil && !base {
			t.Errorf("List lacks the debootstrap base image: %+v", list)
		}
	})
}

func TestEnsureNodeRejectsADynamicBinary(t *testing.T) {
	// The binary is checked before the engine is asked anything.
	_, err := EnsureNode(context.Background(), nil, "/bin/sh", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("EnsureNode(/bin/sh): %v; want a clear error", err)
	}
}
