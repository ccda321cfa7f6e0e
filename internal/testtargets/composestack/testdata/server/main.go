// Command server is the node of the compose provider's test stack: a
// static binary alone in an image FROM scratch (no shell, no iptables).
// It serves, on -addr, a register per key and a dial to any address, so
// that a partition between two nodes shows from inside one of them:
//
//	GET /health                      "ok"
//	GET /r?k=KEY                     the value, or "nil"
//	GET /w?k=KEY&v=N                 "ok"
//	GET /cas?k=KEY&old=N&new=M       "ok", or 409 "fail"
//	GET /dial?addr=HOST:PORT&ms=N    "ok" when a TCP connection to addr
//	                                 opens or is refused within N ms,
//	                                 503 "dropped" when it times out
//
// With -health it is its own healthcheck: it asks /health of the server
// on -addr's port and exits 0 when it answers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", ":8080", "where to listen")
	health := flag.Bool("health", false, "check the server on -addr's port and exit")
	flag.Parse()
	if *health {
		_, port, _ := net.SplitHostPort(*addr)
		c := http.Client{Timeout: time.Second}
		res, err := c.Get("http://127.0.0.1:" + port + "/health")
		if err != nil || res.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		os.Exit(0)
	}
	var mu sync.Mutex
	regs := map[string]int64{}
	num := func(r *http.Request, k string) int64 {
		n, _ := strconv.ParseInt(r.URL.Query().Get(k), 10, 64)
		return n
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/r", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if v, ok := regs[r.URL.Query().Get("k")]; ok {
			fmt.Fprint(w, v)
			return
		}
		fmt.Fprint(w, "nil")
	})
	mux.HandleFunc("/w", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		regs[r.URL.Query().Get("k")] = num(r, "v")
		mu.Unlock()
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/cas", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		k := r.URL.Query().Get("k")
		if v, ok := regs[k]; ok && v == num(r, "old") {
			regs[k] = num(r, "new")
			fmt.Fprint(w, "ok")
			return
		}
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, "fail")
	})
	mux.HandleFunc("/dial", func(w http.ResponseWriter, r *http.Request) {
		d := net.Dialer{Timeout: time.Duration(num(r, "ms")) * time.Millisecond}
		conn, err := d.DialContext(r.Context(), "tcp", r.URL.Query().Get("addr"))
		if err == nil {
			conn.Close()
		}
		if err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "dropped")
			return
		}
		fmt.Fprint(w, "ok")
	})
	srv := &http.Server{Addr: *addr, Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Println("server: listening on", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}
