package images

import (
	"context"
	"fmt"
	"io"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Remover is the part of the engine API Prune needs besides Engine's.
type Remover interface {
	Engine
	ImageRemove(ctx context.Context, image string, opts client.ImageRemoveOptions) (client.ImageRemoveResult, error)
}

var _ Remover = (*client.Client)(nil)

// Prune removes faultline's node images except the keep newest of each
// recipe (each target's, and the generic one), which a changed binary
// leaves behind one by one. The base image is never
// removed. An image a container still uses is left in place and reported
// on out (never forced). It returns the tags (or IDs) it removed.
func Prune(ctx context.Context, cli Remover, keep int, out io.Writer) ([]string, error) {
	if out == nil {
		out = io.Discard
	}
	all, err := List(ctx, cli)
	if err != nil {
		return nil, err
	}
	var removed []string
	kept := map[string]int{}
	for _, img := range all {
		if img.Role != "node" {
			continue
		}
		if kept[img.Target] < keep {
			kept[img.Target]++
			continue
		}
		name := shortID(img.ID)
		if len(img.Tags) > 0 {
			name = img.Tags[0]
		}
		_, err := cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{PruneChildren: true})
		switch {
		case err == nil:
			removed = append(removed, name)
			fmt.Fprintf(out, "images: removed %s\n", name)
		case cerrdefs.IsConflict(err) || cerrdefs.IsNotFound(err):
			fmt.Fprintf(out, "images: kept %s: %v\n", name, err)
		default:
			return removed, fmt.Errorf("remove image %s: %w", name, err)
		}
	}
	return removed, nil
}
