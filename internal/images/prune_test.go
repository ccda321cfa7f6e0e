package images

import (
	"context"
	"errors"
	"slices"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
)

// listingEngine lists a fixed set of images and records removals.
type listingEngine struct {
	fakeEngine
	items   []image.Summary
	inUse   map[string]bool
	removed []string
}

func (l *listingEngine) ImageList(context.Context, client.ImageListOptions) (client.ImageListResult, error) {
	return client.ImageListResult{Items: l.items}, nil
}

func (l *listingEngine) ImageRemove(_ context.Context, id string, o client.ImageRemoveOptions) (client.ImageRemoveResult, error) {
	if o.Force {
		return client.ImageRemoveResult{}, errors.New("prune must never force")
	}
	if l.inUse[id] {
		return client.ImageRemoveResult{}, cerrdefs.ErrConflict.WithMessage("image is being used by a container")
	}
	l.removed = append(l.removed, id)
	return client.ImageRemoveResult{}, nil
}

func TestPruneKeepsNewestBaseAndImagesInUse(t *testing.T) {
	img := func(id, role string, created int64) image.Summary {
		return image.Summary{ID: id, Created: created, RepoTags: []string{"faultline-" + role + ":" + id},
			Labels: map[string]string{Label: "1", LabelRole: role}}
	}
	e := &listingEngine{
		items: []image.Summary{
			img("n1", "node", 100), img("n4", "node", 400), img("b1", "base", 50),
			img("n2", "node", 200), img("n3", "node", 300),
		},
		inUse: map[string]bool{"n2": true},
	}
	removed, err := Prune(context.Background(), e, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.removed, []string{"n3", "n1"}) {
		t.Fatalf("removed %v, want the older node images n3 and n1 (n4 newest kept, n2 in use, base never)", e.removed)
	}
	if !slices.Equal(removed, []string{"faultline-node:n3", "faultline-node:n1"}) {
		t.Fatalf("reported %v", removed)
	}
}

func TestPruneKeepsTheNewestOfEachTarget(t *testing.T) {
	img := func(id, target string, created int64) image.Summary {
		return image.Summary{ID: id, Created: created, RepoTags: []string{"faultline-node:" + id},
			Labels: map[string]string{Label: "1", LabelRole: "node", LabelTarget: target}}
	}
	e := &listingEngine{items: []image.Summary{
		img("kv1", "demo-kv", 100), img("kv2", "demo-kv", 300),
		img("r1", "redis-pair", 200), img("g1", "", 50), img("g2", "", 60),
	}}
	if _, err := Prune(context.Background(), e, 1, nil); err != nil {
		t.Fatal(err)
	}
	slices.Sort(e.removed)
	if !slices.Equal(e.removed, []string{"g1", "kv1"}) {
		t.Fatalf("removed %v, want the older demo-kv and generic images only", e.removed)
	}
}
