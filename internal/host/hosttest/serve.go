package hosttest

import (
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// ServeEach starts an HTTP server on each of the addresses ips (such as the
// loopback addresses of an sshtest.Fleet's hosts), all on one port, server i
// answering with handler(i), and returns the port: a URL naming {host} then
// reaches each host's own server. The servers stop when the test ends.
func ServeEach(t testing.TB, ips []string, handler func(i int) http.Handler) int {
	t.Helper()
	for range 20 {
		listeners, port, err := listenEach(ips)
		if err != nil {
			t.Fatal(err)
		}
		if listeners == nil {
			continue // the port was taken on another address: try another
		}
		for i, l := range listeners {
			srv := &http.Server{Handler: handler(i), ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(l) }()
			t.Cleanup(func() { _ = srv.Close() })
		}
		return port
	}
	t.Fatalf("found no port free on every one of %v", ips)
	return 0
}

// listenEach listens on one port on every address, the port the first one got;
// no listeners when that port is taken on another address.
func listenEach(ips []string) ([]net.Listener, int, error) {
	first, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
	if err != nil {
		return nil, 0, err
	}
	_, p, err := net.SplitHostPort(first.Addr().String())
	if err != nil {
		_ = first.Close()
		return nil, 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		_ = first.Close()
		return nil, 0, err
	}
	listeners := []net.Listener{first}
	for _, ip := range ips[1:] {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, p))
		if err != nil {
			for _, l := range listeners {
				_ = l.Close()
			}
			return nil, 0, nil
		}
		listeners = append(listeners, l)
	}
	return listeners, port, nil
}
