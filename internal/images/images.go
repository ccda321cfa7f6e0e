// Package images makes the container images of the docker provider without
// a registry: a Debian base image (the local debian:bookworm-slim, or one
// built from Debian's packages with debootstrap and imported), and the node
// image every target runs, made of that base, the servers the targets need
// and a static faultline binary.
//
// Every image it makes carries the label faultline=1. Node images are tagged
// by a hash of their inputs, so asking for the same node image twice builds
// it once.
package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Names and labels of the images this package makes.
const (
	// BaseImage is the base image used when the engine has it.
	BaseImage = "debian:bookworm-slim"
	// Suite is the Debian release of every image.
	Suite = "bookworm"
	// BaseRepo is the repository of base images built with debootstrap.
	BaseRepo = "faultline-base"
	// NodeRepo is the repository of node images.
	NodeRepo = "faultline-node"
	// Label marks every image (and every test container) faultline makes.
	Label = "faultline"
	// LabelRole tells a base image ("base") from a node image ("node").
	LabelRole = "faultline.role"
	// LabelTarget names the target whose Dockerfile built a node image.
	LabelTarget = "faultline.target"
	// LabelInputs holds the hash of a node image's inputs.
	LabelInputs = "faultline.inputs"
)

// Sentinel errors callers branch on.
var (
	// ErrNoEngine means no Docker engine answered.
	ErrNoEngine = errors.New("no Docker engine answered")
	// ErrMissingTool means a program needed to build an image is not installed.
	ErrMissingTool = errors.New("missing tool")
)

// Engine is the part of the Docker Engine API this package uses.
// *client.Client implements it.
type Engine interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImagePull(ctx context.Context, ref string, opts client.ImagePullOptions) (client.ImagePullResponse, error)
	ImageImport(ctx context.Context, source client.ImageImportSource, ref string, opts client.ImageImportOptions) (client.ImageImportResult, error)
	ImageBuild(ctx context.Context, buildContext io.Reader, opts client.ImageBuildOptions) (client.ImageBuildResult, error)
	ImageList(ctx context.Context, opts client.ImageListOptions) (client.ImageListResult, error)
}

var _ Engine = (*client.Client)(nil)

// Connect returns a client of the engine named by the environment
// (DOCKER_HOST and friends; the local socket by default) after checking that
// the engine answers, with the API version negotiated down to the engine's
// (API 1.40 and later are supported). An engine that does not answer gives
// an error wrapping ErrNoEngine. The caller closes the client.
func Connect(ctx context.Context) (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		switch {
		case client.IsErrConnectionFailed(err):
			return nil, fmt.Errorf("%w: %v", ErrNoEngine, err)
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			return nil, fmt.Errorf("%w at %s within 10s", ErrNoEngine, cli.DaemonHost())
		}
		return nil, fmt.Errorf("docker engine at %s: %w", cli.DaemonHost(), err)
	}
	return cli, nil
}

// Image is one image faultline made, as List reports it.
type Image struct {
	ID      string
	Tags    []string
	Role    string // "base" or "node"
	Target  string // the target whose recipe built a node image; "" for the generic one
	Inputs  string // hash of a node image's inputs
	Created time.Time
	Size    int64 // bytes, shared layers included
}

// List returns the images labelled faultline=1, newest first.
func List(ctx context.Context, cli Engine) ([]Image, error) {
	res, err := cli.ImageList(ctx, client.ImageListOptions{
		Filters: make(client.Filters).Add("label", Label+"=1"),
	})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]Image, 0, len(res.Items))
	for _, s := range res.Items {
		var tags []string
		for _, t := range s.RepoTags {
			if t != "<none>:<none>" {
				tags = append(tags, t)
			}
		}
		out = append(out, Image{
			ID:      s.ID,
			Tags:    tags,
			Role:    s.Labels[LabelRole],
			Target:  s.Labels[LabelTarget],
			Inputs:  s.Labels[LabelInputs],
			Created: time.Unix(s.Created, 0).UTC(),
			Size:    s.Size,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// inspect returns the image's ID, or "" with a nil error when the engine
// does not have it.
func inspect(ctx context.Context, cli Engine, ref string) (string, error) {
	res, err := cli.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return res.ID, nil
}

// shortID is an image ID without its algorithm, cut to 12 characters.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}
