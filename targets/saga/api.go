package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/faultline/faultline/targets"
	wl "github.com/faultline/faultline/workloads/saga"
)

// The HTTP+JSON API of the nodes, on NodeConfig.APIAddr. Errors answer a
// JSON object {"error": "…"}.
const (
	// RouteHealth (GET, every node but the broker) answers 200 once the
	// node's store is open and it consumes its messages, else 503.
	RouteHealth = "/health"
	// RouteOrders (orchestrator): POST with a wl.Order records the order
	// (unless one of its id is recorded) and starts its saga, answering
	// 200 with its wl.OrderState; GET ?from=N&count=N answers a
	// wl.OrdersPage.
	RouteOrders = "/orders"
	// RouteOrder (orchestrator): GET /orders/{id} answers the order's
	// wl.OrderState, or 404 when there is none.
	RouteOrder = "/orders/"
	// RouteInFlight (orchestrator): GET answers a wl.Settled: how many
	// sagas are in flight.
	RouteInFlight = "/inflight"
	// RouteEffects (services): GET ?from=N&count=N answers a
	// wl.EffectsPage of the service's record.
	RouteEffects = "/effects"
)

// maxBody bounds every request and reply body read.
const maxBody = 16 << 20

// maxPage bounds the entries one page read returns.
const maxPage = 10000

type errorReply struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, errorReply{Error: err.Error()})
}

// pageParams reads ?from=N&count=N (count bounded by maxPage).
func pageParams(r *http.Request) (int64, int64, error) {
	from, err := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
	if err != nil || from < 0 {
		return 0, 0, fmt.Errorf("from %q: want a number ≥ 0", r.URL.Query().Get("from"))
	}
	count, err := strconv.ParseInt(r.URL.Query().Get("count"), 10, 64)
	if err != nil || count < 1 {
		return 0, 0, fmt.Errorf("count %q: want a number ≥ 1", r.URL.Query().Get("count"))
	}
	return from, min(count, maxPage), nil
}

// serve serves h on cfg.APIAddr until ctx ends, then shuts the server
// down within a few seconds.
func serve(ctx context.Context, cfg targets.NodeConfig, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("listen api: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("api server", "err", err)
	}
	return nil
}

// Ready returns nil when the node whose API listens at addr answers its
// health check with 200. It makes one request, bounded by ctx and two
// seconds.
func Ready(ctx context.Context, addr string) error {
	ctx, cancel := readyContext(ctx)
	defer cancel()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+RouteHealth, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e errorReply
		_ = json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&e)
		return fmt.Errorf("%s not ready: %s", addr, e.Error)
	}
	return nil
}

// health is the handler of RouteHealth: 200 when ready returns nil.
func health(ready func() error) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	}
}

// stateOf is the API's view of a record.
func stateOf(r record) wl.OrderState {
	return wl.OrderState{ID: r.ID, State: r.State, Failed: r.Failed}
}
