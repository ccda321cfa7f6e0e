package faultline_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/images"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/internal/testtargets/composestack"
	"github.com/faultline/faultline/targets/redislock"
	"github.com/faultline/faultline/testfile"
)

// exampleDir is the Compose example the README's CI section shows.
const exampleDir = "examples/redis-replicas"

// TestExampleRedisReplicas brings the example stack up (a Redis primary
// and two asynchronous replicas, from an image with Debian's redis-server
// where the official image cannot be pulled) and runs its two test files
// as a user would: reading from the replicas while the primary is cut off
// from them is caught (stale reads), reading from the primary passes.
// Each file runs FAULTLINE_EXAMPLE_SEEDS seeds (default 1, seeds 8001 on)
// of FAULTLINE_EXAMPLE_TIME (default 12s); after each run the stack's
// containers are running and unpaused, as the run found them.
func TestExampleRedisReplicas(t *testing.T) {
	testenv.NeedDocker(t)
	compose := composestack.ComposeCommand(t)
	seeds, limit := runParams(t, "EXAMPLE")

	ctx := context.Background()
	cli, err := images.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	bctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	redisImage, err := images.EnsureImage(bctx, cli, string(redislock.Target{}.Dockerfile()), composestack.NodeBinary(t), io.Discard)
	cancel()
	if err != nil {
		t.Fatalf("an image with redis-server: %v", err)
	}

	var b [3]byte
	rand.Read(b[:])
	project := "fltest-example-" + hex.EncodeToString(b[:])
	file, err := filepath.Abs(filepath.Join(exampleDir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(ctx context.Context, args ...string) ([]byte, error) {
		argv := append(append(compose[1:len(compose):len(compose)], "-p", project, "-f", file), args...)
		c := exec.CommandContext(ctx, compose[0], argv...)
		c.Env = append(os.Environ(), "REDIS_IMAGE="+redisImage)
		return c.CombinedOutput()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := run(ctx, "down", "-t", "1"); err != nil {
			t.Errorf("compose down: %v: %s", err, out)
		}
	})
	uctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	out, err := run(uctx, "up", "-d")
	cancel()
	if err != nil {
		t.Fatalf("compose up: %v: %s", err, out)
	}
	containers := func() []string {
		out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+project).Output()
		if err != nil {
			t.Fatalf("docker ps: %v", err)
		}
		return strings.Fields(string(out))
	}
	// Both replicas have synchronised with the primary.
	testenv.Eventually(t, time.Minute, "both replicas linked to the primary", func() error {
		ids := containers()
		if len(ids) != 3 {
			return fmt.Errorf("%d containers, want 3", len(ids))
		}
		linked := 0
		for _, id := range ids {
			out, err := exec.Command("docker", "exec", id, "redis-cli", "info", "replication").Output()
			if err != nil {
				return fmt.Errorf("redis-cli in %s: %v", id, err)
			}
			if strings.Contains(string(out), "master_link_status:up") {
				linked++
			}
		}
		if linked != 2 {
			return fmt.Errorf("%d replicas linked", linked)
		}
		return nil
	})

	cases := []struct {
		file string
		want faultline.Verdict
	}{
		{"faultline.yaml", faultline.Invalid},
		{"faultline-primary.yaml", faultline.Valid},
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".yaml"), func(t *testing.T) {
			found := 0
			for i := range seeds {
				test, err := testfile.Load(filepath.Join(exampleDir, c.file))
				if err != nil {
					t.Fatal(err)
				}
				test.Compose.Project = project
				test.Results = t.TempDir()
				test.Seed = int64(8001 + i)
				test.TimeLimit = limit
				rctx, cancel := context.WithTimeout(ctx, limit+3*time.Minute)
				res, err := faultline.Run(rctx, test)
				cancel()
				if err != nil {
					t.Fatalf("seed %d: %v", test.Seed, err)
				}
				ok := res.Counts.OK
				t.Logf("%s seed %d: %s, %d ok operations, %s", c.file, test.Seed, res.Verdict, ok, res.Dir)
				if res.Verdict == c.want {
					found++
				}
				if ok == 0 {
					t.Errorf("seed %d: no operation succeeded", test.Seed)
				}
				// The stack as the run found it: every container running,
				// none paused.
				for _, id := range containers() {
					out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}} {{.State.Paused}}", id).Output()
					if err != nil || strings.TrimSpace(string(out)) != "true false" {
						t.Errorf("after seed %d container %s is %q (%v), want running and unpaused", test.Seed, id, out, err)
					}
				}
			}
			t.Logf("%s: %s in %d of %d seeds", c.file, c.want, found, seeds)
			if need := (9*seeds + 9) / 10; found < need {
				t.Errorf("%s: %s in %d of %d seeds, want at least %d", c.file, c.want, found, seeds, need)
			}
		})
	}
}
