// Command demoserver serves the live release of a directory target over HTTP on a
// loopback address: every request is answered from <dir>/current, resolved again
// for each request, so an atomic switch of the `current` symlink is visible at
// once and in-flight requests finish on the release they started on.
//
//	go run ./tools/demoserver -dir /tmp/demo/app -listen 127.0.0.1:8089
//
// With -listen 127.0.0.1:0 a free port is chosen; -addr-file writes the address
// (host:port) to a file once the server listens, for scripts to read.
//
// A release holding a file named `fail` is a broken build that passes its health
// check: /health is served as usual, every other request answers 500. make demo
// rolls such a release out as a canary, which the canary analysis catches on real
// traffic where smoke tests and health checks see nothing wrong.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", "", "directory target path: the folder holding `current` and `releases/` (required)")
	listen := flag.String("listen", "127.0.0.1:8089", "loopback address to listen on")
	addrFile := flag.String("addr-file", "", "write the listening address to this file")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "demoserver: -dir is required")
		flag.Usage()
		os.Exit(2)
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		log.Fatalf("demoserver: -listen %q: %v", *listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("demoserver: -listen %q: only loopback addresses are served", *listen)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("demoserver: %v", err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			log.Fatalf("demoserver: %v", err)
		}
	}
	srv := &http.Server{Handler: Handler(*dir), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("demoserver: serving %s on http://%s/", filepath.Join(*dir, "current"), ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("demoserver: %v", err)
	}
}

// Handler serves the files of <dir>/current. http.Dir opens <dir>/current/<path>
// on each request, so the kernel resolves the symlink per request. A missing
// `current` answers 503 (nothing deployed yet). A release holding a file named
// `fail` answers 500 to every request but /health.
func Handler(dir string) http.Handler {
	current := filepath.Join(dir, "current")
	files := http.FileServer(http.Dir(current))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(current); err != nil {
			http.Error(w, "no release is live", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if target, err := os.Readlink(current); err == nil {
			w.Header().Set("X-Release", filepath.Base(target))
		}
		if _, err := os.Stat(filepath.Join(current, "fail")); err == nil && r.URL.Path != "/health" {
			http.Error(w, "this release is broken (it holds a file named fail)", http.StatusInternalServerError)
			return
		}
		files.ServeHTTP(w, r)
	})
}
