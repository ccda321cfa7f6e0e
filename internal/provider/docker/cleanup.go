package docker

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/internal/provider/lifecycle"
)

// Cleanup removes every container (running or not, by force) and then
// every network that carries the labels faultline=1 and faultline.run (any
// run id: only faultline's providers set it), whatever run made them:
// what crashed or killed runs left behind. Before that it gives back the
// node containers of every helper container (a compose run's) as their run
// found them and removes those helpers (RestoreHelped): a user's container
// is never removed, only resumed, started again and rid of faultline's
// chains. It finds everything by those labels only and never touches an
// object without them (images are left alone; `faultline images` manages
// those). It writes one line per restored node and removed object to out
// (nil for none) and returns the descriptions of the removed objects. It
// also removes the containers and networks of runs still going on, so
// call it when none is.
func Cleanup(ctx context.Context, eng Engine, out io.Writer) (removed []string, err error) {
	// Both labels: containers inherit their image's labels, and the node
	// image carries faultline=1 too, so a container someone else started
	// from it has that label but never a run id.
	helpers, herr := RestoreHelped(ctx, eng, "", out)
	filter := labelFilter(LabelFaultline, "1").Add("label", LabelRun)
	removed, err = removeLabelled(ctx, eng, filter, func(labels map[string]string) bool {
		// A helper whose node could not be restored stays for another try.
		return labels[LabelFaultline] == "1" && labels[LabelRun] != "" && !IsHelper(labels)
	}, out)
	removed = append(helpers, removed...)
	if err = lifecycle.JoinErrors(herr, err); err != nil {
		return removed, fmt.Errorf("cleanup: %w", err)
	}
	return removed, nil
}

// removeLabelled removes the containers, then the networks, that the
// engine lists under filter and that keep also accepts (by their labels:
// a second check that does not rely on the engine's filtering). Containers
// go at once, each by force; a paused one is resumed first, since not
// every engine kills a frozen container. It goes on after a failure and
// returns what it removed and the failures joined.
func removeLabelled(ctx context.Context, eng Engine, filter client.Filters, keep func(map[string]string) bool, out io.Writer) ([]string, error) {
	var (
		mu      sync.Mutex
		removed []string
		errs    []error
	)
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		removed = append(removed, s)
		if out != nil {
			fmt.Fprintf(out, "removed %s\n", s)
		}
	}
	cs, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var doomed []container.Summary
	for _, ct := range cs.Items {
		if keep(ct.Labels) {
			doomed = append(doomed, ct)
		}
	}
	errs = append(errs, lifecycle.Each(doomed, func(ct container.Summary) error {
		name := shortID(ct.ID)
		if len(ct.Names) > 0 {
			name = strings.TrimPrefix(ct.Names[0], "/")
		}
		if ct.State == container.StatePaused {
			// A failure shows in the removal below.
			eng.ContainerUnpause(ctx, ct.ID, client.ContainerUnpauseOptions{})
		}
		_, err := eng.ContainerRemove(ctx, ct.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			note("container " + name)
		case cerrdefs.IsNotFound(err):
			// Gone already, for example removed on its own.
		default:
			return fmt.Errorf("remove container %s: %w", name, err)
		}
		return nil
	})...)
	ns, err := eng.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return removed, lifecycle.JoinErrors(append(errs, fmt.Errorf("list networks: %w", err))...)
	}
	for _, nw := range ns.Items {
		if !keep(nw.Labels) {
			continue
		}
		_, err := eng.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{})
		switch {
		case err == nil:
			note("network " + nw.Name)
		case cerrdefs.IsNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("remove network %s: %w", nw.Name, err))
		}
	}
	return removed, lifecycle.JoinErrors(errs...)
}
