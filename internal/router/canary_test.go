package router

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"testing"
	"time"
)

// get answers the body of GET url with client.
func get(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %q %v", url, resp.StatusCode, b, err)
	}
	return strings.TrimSpace(string(b))
}

// share sends n requests, each from newClient(i), and returns the percentage
// answered by green.
func share(t *testing.T, url string, n int, newClient func(i int) *http.Client) float64 {
	t.Helper()
	green := 0
	for i := 0; i < n; i++ {
		if get(t, newClient(i), url) == string(Green) {
			green++
		}
	}
	return float64(green) * 100 / float64(n)
}

func setCanary(t *testing.T, f *nginxFixture, active Colour, c Canary) State {
	t.Helper()
	f.router.Canary = c
	st, err := f.router.Switch(context.Background(), active, httpCheck)
	if err != nil {
		t.Fatalf("switch to %s with canary %+v: %v", active, c, err)
	}
	return st
}

// fromIP is a client whose connections come from the loopback address ip.
func fromIP(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func withJar() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Timeout: 5 * time.Second, Jar: jar}
}

// TestNginxCanary runs one nginx in front of a blue and a green server and moves
// the canary weight through what the provider does: split, stickiness, read
// back, drift, 100% and back to none.
func TestNginxCanary(t *testing.T) {
	f := startNginxFixture(t, "")
	keepAlive := &http.Client{Timeout: 5 * time.Second}
	one := func(int) *http.Client { return keepAlive }

	t.Run("split within 5 points over 2000 requests", func(t *testing.T) {
		for _, w := range []int{10, 50, 90} {
			st := setCanary(t, f, Blue, Canary{Weight: w})
			if st.Active != Blue || st.Canary.Weight != w || st.Canary.Sticky != StickyNone {
				t.Fatalf("switch returned %+v", st)
			}
			waitBody(t, f.srv.URL("/"), map[string]string{PreviewHeader: "1"}, "green")
			for _, path := range []string{"/", "/plain"} {
				got := share(t, f.srv.URL(path), 2000, one)
				t.Logf("weight %d: %s: %.1f%% green", w, path, got)
				if got < float64(w)-5 || got > float64(w)+5 {
					t.Errorf("weight %d: %s answered green for %.1f%% of 2000 requests", w, path, got)
				}
			}
		}
	})

	t.Run("sticky cookie", func(t *testing.T) {
		setCanary(t, f, Blue, Canary{Weight: 30, Sticky: StickyCookie})
		got := share(t, f.srv.URL("/"), 2000, func(int) *http.Client { return withJar() })
		if got < 25 || got > 35 {
			t.Errorf("2000 new cookie clients: %.1f%% green, want 30±5", got)
		}
		greenClients := 0
		for i := 0; i < 40; i++ {
			c := withJar()
			first := get(t, c, f.srv.URL("/"))
			if first == "green" {
				greenClients++
			}
			u, _ := http.NewRequest(http.MethodGet, f.srv.URL("/"), nil)
			if cs := c.Jar.Cookies(u.URL); len(cs) != 1 || cs[0].Name != CookieName("app") {
				t.Fatalf("client %d got cookies %v, want one %s", i, cs, CookieName("app"))
			}
			for j := 0; j < 10; j++ {
				if got := get(t, c, f.srv.URL("/plain")); got != first {
					t.Fatalf("cookie client %d answered %s then %s", i, first, got)
				}
			}
		}
		if greenClients == 0 || greenClients == 40 {
			t.Errorf("%d of 40 cookie clients on green: the split does not split", greenClients)
		}
		// The canary grows: clients on green stay on green.
		var onGreen []*http.Client
		for len(onGreen) < 10 {
			if c := withJar(); get(t, c, f.srv.URL("/")) == "green" {
				onGreen = append(onGreen, c)
			}
		}
		setCanary(t, f, Blue, Canary{Weight: 60, Sticky: StickyCookie})
		for i, c := range onGreen {
			if got := get(t, c, f.srv.URL("/")); got != "green" {
				t.Errorf("green cookie client %d moved to %s when the weight grew to 60", i, got)
			}
		}
	})

	t.Run("sticky client_ip", func(t *testing.T) {
		st := setCanary(t, f, Blue, Canary{Weight: 50, Sticky: StickyClientIP})
		if st.Canary.Sticky != StickyClientIP {
			t.Fatalf("read back %+v", st.Canary)
		}
		colours := map[string]int{}
		for i := 2; i < 42; i++ {
			ip := fmt.Sprintf("127.0.0.%d", i)
			first := get(t, fromIP(ip), f.srv.URL("/"))
			colours[first]++
			for j := 0; j < 5; j++ {
				if got := get(t, fromIP(ip), f.srv.URL("/")); got != first {
					t.Fatalf("client %s answered %s then %s", ip, first, got)
				}
			}
		}
		if colours["blue"] == 0 || colours["green"] == 0 {
			t.Errorf("40 client addresses at weight 50 all on one colour: %v", colours)
		}
	})

	t.Run("read back and drift", func(t *testing.T) {
		setCanary(t, f, Blue, Canary{Weight: 20, Sticky: StickyCookie})
		st, err := f.router.Read(context.Background())
		if err != nil || st.Active != Blue || st.Canary != (Canary{Weight: 20, Sticky: StickyCookie}) || st.Live != f.blue.Addr || st.Preview != f.green.Addr {
			t.Fatalf("Read = %+v, %v", st, err)
		}
		content := readFile(t, f.upstreamFile)
		edited := strings.Replace(content, "weight=80;", "weight=50;", 1)
		edited = strings.Replace(edited, "weight=20;", "weight=50;", 1)
		if edited == content {
			t.Fatalf("no weights to edit in:\n%s", content)
		}
		if err := os.WriteFile(f.upstreamFile, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err = f.router.Read(context.Background())
		if err != nil || st.Active != Blue || st.Canary.Weight != 50 {
			t.Fatalf("Read after a hand edit to 50/50 = %+v, %v", st, err)
		}
	})

	t.Run("weight 100 then end the canary", func(t *testing.T) {
		st := setCanary(t, f, Blue, Canary{Weight: 100})
		if st.Active != Blue || st.Canary.Weight != 100 {
			t.Fatalf("switch returned %+v", st)
		}
		if got := share(t, f.srv.URL("/plain"), 200, one); got != 100 {
			t.Fatalf("weight 100: %.1f%% green", got)
		}
		st = setCanary(t, f, Green, Canary{})
		if st.Active != Green || st.Canary.Active() {
			t.Fatalf("switch returned %+v", st)
		}
		if got := share(t, f.srv.URL("/plain"), 200, one); got != 100 {
			t.Fatalf("green active: %.1f%% green", got)
		}
		if strings.Contains(readFile(t, f.upstreamFile), "weight=") {
			t.Errorf("the canary's weights stayed in the file:\n%s", readFile(t, f.upstreamFile))
		}
	})

	t.Run("a canary colour failing its health check is not sent requests", func(t *testing.T) {
		setCanary(t, f, Blue, Canary{})
		f.green.Health.Store(http.StatusServiceUnavailable)
		defer f.green.Health.Store(http.StatusOK)
		f.router.Canary = Canary{Weight: 10}
		_, err := f.router.Switch(context.Background(), Blue, httpCheck)
		if err == nil || !strings.Contains(err.Error(), "health check") || !strings.Contains(err.Error(), "503") {
			t.Fatalf("err = %v", err)
		}
		if got := share(t, f.srv.URL("/plain"), 100, one); got != 0 {
			t.Fatalf("%.1f%% green after a refused canary", got)
		}
	})
}

func TestNginxCanaryZeroDowntimeDuring20WeightChanges(t *testing.T) {
	f := startNginxFixture(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stats, wait := runLoad(ctx, f.srv.URL("/"), loadWorkers, loadMaxRequests, isColour, false)
	weights := []int{5, 10, 25, 50, 75, 100, 50, 0}
	stickies := []Sticky{StickyNone, StickyCookie, StickyClientIP}
	for i := 0; i < 20; i++ {
		c := Canary{Weight: weights[i%len(weights)], Sticky: stickies[i%len(stickies)]}
		f.router.Canary = c
		if _, err := f.router.Switch(ctx, Blue, httpCheck); err != nil {
			cancel()
			wait()
			t.Fatalf("weight change %d to %+v: %v", i+1, c, err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	wait()
	t.Logf("20 weight changes: %d requests served through nginx, %d failed", stats.served.Load(), stats.failed.Load())
	if n := stats.failed.Load(); n != 0 {
		t.Fatalf("%d requests failed during the weight changes; first: %q", n, stats.firstFailures)
	}
	if stats.served.Load() < 20 {
		t.Fatalf("only %d requests served: the load loop did not run", stats.served.Load())
	}
}

func TestParseCanary(t *testing.T) {
	n := &Nginx{ConfigFile: "/x.conf", UpstreamName: "app", Blue: "127.0.0.1:8081", Green: "unix:/run/green.sock"}
	for _, c := range []Canary{{}, {Weight: 1}, {Weight: 33, Sticky: StickyCookie}, {Weight: 99, Sticky: StickyClientIP}, {Weight: 100}} {
		for _, active := range []Colour{Blue, Green} {
			n.Canary = c
			st, err := Parse(n.Render(active, time.Now()), "app")
			want := c
			if want.Sticky == "" {
				want.Sticky = StickyNone
			}
			if c.Weight == 0 || c.Weight == 100 {
				want.Sticky = StickyNone
			}
			if c.Weight == 0 {
				want = Canary{}
			}
			if err != nil || st.Active != active || st.Canary != want || st.Live != n.upstream(active) || st.Preview != n.upstream(active.Other()) {
				t.Errorf("canary %+v active %s: Parse = %+v, %v\n%s", c, active, st, err, n.Render(active, time.Now()))
			}
		}
	}
	n.Canary = Canary{Weight: 101}
	if _, err := n.Switch(context.Background(), Blue, nil); err == nil || !strings.Contains(err.Error(), "between 0 and 100") {
		t.Errorf("weight 101: %v", err)
	}
}
