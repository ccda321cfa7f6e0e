package images

import (
	"context"
	"errors"
	"io"
	"iter"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// fakeEngine is an Engine with a set of images; a pull adds pullable.
type fakeEngine struct {
	images   map[string]string // reference to ID
	pullable bool
	pulls    int
	imports  int
	builds   int
}

var _ Engine = (*fakeEngine)(nil)

func (f *fakeEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if id, ok := f.images[ref]; ok {
		return client.ImageInspectResult{InspectResponse: image.InspectResponse{ID: id}}, nil
	}
	return client.ImageInspectResult{}, cerrdefs.ErrNotFound.WithMessage("no such image: " + ref)
}

func (f *fakeEngine) ImagePull(_ context.Context, ref string, _ client.ImagePullOptions) (client.ImagePullResponse, error) {
	f.pulls++
	if !f.pullable {
		return nil, errors.New("dial tcp: lookup registry: no such host")
	}
	f.images[ref] = "sha256:pulled"
	return pullResponse{io.NopCloser(strings.NewReader(`{"status":"Pull complete","id":"layer"}` + "\n"))}, nil
}

func (f *fakeEngine) ImageImport(context.Context, client.ImageImportSource, string, client.ImageImportOptions) (client.ImageImportResult, error) {
	f.imports++
	return nil, errors.New("fake engine: no import")
}

func (f *fakeEngine) ImageBuild(context.Context, io.Reader, client.ImageBuildOptions) (client.ImageBuildResult, error) {
	f.builds++
	return client.ImageBuildResult{}, errors.New("fake engine: no build")
}

func (f *fakeEngine) ImageList(context.Context, client.ImageListOptions) (client.ImageListResult, error) {
	return client.ImageListResult{}, nil
}

type pullResponse struct{ io.ReadCloser }

func (pullResponse) JSONMessages(context.Context) iter.Seq2[jsonstream.Message, error] {
	return func(func(jsonstream.Message, error) bool) {}
}
func (pullResponse) Wait(context.Context) error { return nil }

func TestEnsureBaseOrder(t *testing.T) {
	mirror, err := DebianMirror(Suite)
	if err != nil {
		t.Fatalf("this machine's apt sources: %v", err)
	}
	tag := BaseTag(mirror, Suite)
	ctx := context.Background()

	t.Run("the engine's debian image first", func(t *testing.T) {
		f := &fakeEngine{images: map[string]string{BaseImage: "sha256:a", tag: "sha256:b"}}
		if got, err := EnsureBase(ctx, f, io.Discard); err != nil || got != BaseImage || f.pulls != 0 {
			t.Fatalf("got %q, %v after %d pulls", got, err, f.pulls)
		}
	})
	t.Run("then a base built earlier, without a pull", func(t *testing.T) {
		f := &fakeEngine{images: map[string]string{tag: "sha256:b"}, pullable: true}
		if got, err := EnsureBase(ctx, f, io.Discard); err != nil || got != tag || f.pulls != 0 {
			t.Fatalf("got %q, %v after %d pulls", got, err, f.pulls)
		}
	})
	t.Run("then a pull", func(t *testing.T) {
		f := &fakeEngine{images: map[string]string{}, pullable: true}
		var out strings.Builder
		if got, err := EnsureBase(ctx, f, &out); err != nil || got != BaseImage || f.pulls != 1 || f.imports != 0 {
			t.Fatalf("got %q, %v after %d pulls, %d imports", got, err, f.pulls, f.imports)
		}
		if !strings.Contains(out.String(), "pull: layer: Pull complete") {
			t.Fatalf("progress %q", out.String())
		}
	})
}
