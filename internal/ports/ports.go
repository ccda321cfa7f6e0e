// Package ports hands out TCP ports on 127.0.0.1 for node listeners that
// must keep their port across a restart.
package ports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Node ports are chosen once per cluster and reused when a node restarts,
// so nothing may take them while a node is down. The kernel hands out
// ports from the ephemeral range for every outgoing connection (the
// proxies make many) and for every bind to port 0, so a node port inside
// that range could be taken as the source port of some connection while
// its node is killed. Node ports are therefore picked outside the
// ephemeral range, where the kernel never assigns on its own, and recorded
// in a process-wide set so that two clusters in one process never share
// one.
var reserved = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// lowestNodePort keeps node ports clear of well-known service ports.
const lowestNodePort = 10000

// Reserve returns n distinct ports that are free on 127.0.0.1 now and
// lie outside the kernel's ephemeral range where possible. They stay
// reserved in this process until Release.
func Reserve(n int) ([]int, error) {
	reserved.Lock()
	defer reserved.Unlock()
	lo, hi := ephemeralRange()
	first, last := 0, -1
	switch {
	case lo-1-lowestNodePort >= 64*n:
		first, last = lowestNodePort, lo-1
	case 65535-(hi+1) >= 64*n:
		first, last = hi+1, 65535
	}
	var out []int
	if last >= first {
		size := last - first + 1
		start := rand.IntN(size)
		for i := 0; i < size && len(out) < n; i++ {
			p := first + (start+i)%size
			if !reserved.ports[p] && portFree(p) {
				out = append(out, p)
				reserved.ports[p] = true
			}
		}
	}
	// No room outside the ephemeral range: let the kernel choose.
	for tries := 0; len(out) < n && tries < 100*n; tries++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			break
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !reserved.ports[p] {
			out = append(out, p)
			reserved.ports[p] = true
		}
	}
	if len(out) < n {
		for _, p := range out {
			delete(reserved.ports, p)
		}
		return nil, fmt.Errorf("found only %d of %d free ports on 127.0.0.1", len(out), n)
	}
	return out, nil
}

// Release returns ports to the pool; releasing a port twice is harmless.
func Release(ports []int) {
	reserved.Lock()
	defer reserved.Unlock()
	for _, p := range ports {
		delete(reserved.ports, p)
	}
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// ephemeralRange reads the kernel's ephemeral port range, falling back to
// Linux's default.
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l > h {
		return lo, hi
	}
	return l, h
}
