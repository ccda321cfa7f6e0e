// Package nodehttp holds what our own Go nodes that speak HTTP share.
package nodehttp

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Serve runs an HTTP server for h on ln until ctx is done, then stops it,
// giving requests in flight half a second to finish. It closes ln. It
// returns nil after ctx ends and the server's error when it stops first.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
		<-errc
		return nil
	case err := <-errc:
		return err
	}
}
