package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/nginxconf"
	"github.com/releaseplan/terraform-provider-release/internal/nginxtest"
)

// httpCheck is a minimal health check: one GET of http://<target>/health expecting 200.
func httpCheck(ctx context.Context, colour Colour, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET http://%s/health answered %d", target, resp.StatusCode)
	}
	return nil
}

// wantFailedSwitchKeepsBlue checks what every router promises when a switch away
// from blue fails: err is a *SwitchError at stage whose message contains want and
// says that traffic still goes to live (such as "blue" or "blue (127.0.0.1:8081)"),
// and r still reads blue.
func wantFailedSwitchKeepsBlue(t *testing.T, r Router, err error, stage Stage, want, live string) {
	t.Helper()
	var se *SwitchError
	if !errors.As(err, &se) || se.Stage != stage || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want a *SwitchError at stage %q mentioning %q", err, stage, want)
	}
	if !strings.Contains(err.Error(), "traffic still goes to "+live) {
		t.Errorf("error does not say that traffic still goes to %s: %v", live, err)
	}
	if st, err := r.Read(context.Background()); err != nil || st.Active != Blue {
		t.Fatalf("Read = %+v, %v; want blue", st, err)
	}
}

type nginxFixture struct {
	srv          *nginxtest.Server
	router       *Nginx
	blue, green  *nginxtest.Upstream
	upstreamFile string
}

// startNginxFixture writes the router's include file for blue, then starts nginx with
// a server that proxies to the map variable (so the preview header works) and points
// the router's commands at that nginx.
func startNginxFixture(t testing.TB, preview string) *nginxFixture {
	t.Helper()
	f := &nginxFixture{blue: nginxtest.StartUpstream(t, string(Blue)), green: nginxtest.StartUpstream(t, string(Green))}
	confDir := t.TempDir()
	f.upstreamFile = filepath.Join(confDir, "app-upstream.conf")
	f.router = &Nginx{
		ConfigFile:        f.upstreamFile,
		UpstreamName:      "app",
		Blue:              f.blue.Addr,
		Green:             f.green.Addr,
		PreviewServerName: preview,
		TestCommand:       nginxconf.SkipTest, // nginx is not running yet
		ReloadCommand:     "true",
	}
	if _, err := f.router.Switch(context.Background(), Blue, nil); err != nil {
		t.Fatal(err)
	}
	f.srv = nginxtest.Start(t, nginxtest.Config{
		HTTP:   "include " + confDir + "/*.conf;",
		Server: "location / { proxy_pass http://$app_backend; }\nlocation /plain { proxy_pass http://app; }",
	})
	f.router.TestCommand = f.srv.TestCommand()
	f.router.ReloadCommand = f.srv.ReloadCommand()
	f.srv.WaitFor(t, "/", nil, 200, "blue")
	return f
}

// loadStats counts what a load loop saw.
type loadStats struct {
	served, failed atomic.Int64
	mu             sync.Mutex
	firstFailures  []string
	samples        []sample // only when recording
}

type sample struct {
	start  time.Time
	colour string
}

func (s *loadStats) fail(msg string) {
	s.failed.Add(1)
	s.mu.Lock()
	if len(s.firstFailures) < 5 {
		s.firstFailures = append(s.firstFailures, msg)
	}
	s.mu.Unlock()
}

// runLoad sends GET url from workers goroutines until ctx ends or maxRequests were
// sent. A request fails when it errors, does not answer 200 or answers a body that is
// not in valid. With record, every response is kept for latency analysis.
func runLoad(ctx context.Context, url string, workers int, maxRequests int64, valid func(string) bool, record bool) (*loadStats, func()) {
	st := &loadStats{}
	var sent atomic.Int64
	var wg sync.WaitGroup
	transport := &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []sample
			defer func() {
				if record {
					st.mu.Lock()
					st.samples = append(st.samples, local...)
					st.mu.Unlock()
				}
			}()
			for ctx.Err() == nil && sent.Add(1) <= maxRequests {
				start := time.Now()
				resp, err := client.Get(url)
				if err != nil {
					if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
						st.fail(err.Error())
					}
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					st.fail(err.Error())
				case resp.StatusCode != http.StatusOK:
					st.fail(fmt.Sprintf("status %d: %.80s", resp.StatusCode, body))
				case !valid(string(body)):
					st.fail(fmt.Sprintf("unexpected body %.80q", body))
				default:
					st.served.Add(1)
					if record {
						local = append(local, sample{start, strings.TrimSpace(string(body))})
					}
				}
			}
		}()
	}
	return st, func() { wg.Wait(); transport.CloseIdleConnections() }
}

// convergence returns, for a switch at start to colour want, how long it took until
// every request started afterwards saw want: the start of the first request seeing
// want that began after the last request still seeing the old colour.
func convergence(samples []sample, start, end time.Time, want string) (time.Duration, bool) {
	var lastOld time.Time
	for _, s := range samples {
		if s.start.Before(start) || !s.start.Before(end) {
			continue
		}
		if s.colour != want && s.start.After(lastOld) {
			lastOld = s.start
		}
	}
	first := time.Time{}
	for _, s := range samples {
		if s.start.Before(start) || !s.start.Before(end) || s.colour != want {
			continue
		}
		if s.start.After(lastOld) && (first.IsZero() || s.start.Before(first)) {
			first = s.start
		}
	}
	if first.IsZero() {
		return 0, false
	}
	return first.Sub(start), true
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

// waitBody polls url (fresh connections) until it answers want, for at most 10s.
func waitBody(t testing.TB, url string, headers map[string]string, want string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range headers {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %q", resp.StatusCode, b)
			if resp.StatusCode == 200 && strings.TrimSpace(string(b)) == want {
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("GET %s never answered %q within 10s; last: %s", url, want, last)
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
