package nginxtest

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestUpstream(t *testing.T) {
	u := StartUpstream(t, "green")
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + u.Addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || body != "green" {
		t.Fatalf("GET / = %d %q, want 200 green", code, body)
	}
	if code, _ := get("/health"); code != 200 {
		t.Fatalf("GET /health = %d, want 200", code)
	}
	u.Health.Store(http.StatusServiceUnavailable)
	if code, body := get("/health"); code != 503 || body != "green" {
		t.Fatalf("GET /health = %d %q, want 503 green", code, body)
	}

	// Every third request fails; /health neither fails nor counts.
	u.Health.Store(http.StatusOK)
	u.FailEvery.Store(3)
	var codes []int
	for i := range 6 {
		code, _ := get("/x")
		codes = append(codes, code)
		if i == 0 {
			if code, _ := get("/health"); code != 200 {
				t.Fatalf("GET /health with FailEvery = %d, want 200", code)
			}
		}
	}
	if want := []int{200, 200, 500, 200, 200, 500}; !slices.Equal(codes, want) {
		t.Fatalf("statuses = %v, want %v", codes, want)
	}

	u.FailEvery.Store(0)
	u.Delay.Store(int64(50 * time.Millisecond))
	start := time.Now()
	get("/")
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("answered in %v, want at least the 50ms Delay", d)
	}
}

// Traffic keeps requests flowing through nginx to the upstream until the test
// ends.
func TestTraffic(t *testing.T) {
	u := StartUpstream(t, "blue")
	u.FailEvery.Store(1 << 40) // counts the requests, fails none
	s := Start(t, Config{Server: "location / { proxy_pass http://" + u.Addr + "; }"})
	s.Traffic(t, 2, time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for u.n.Load() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests reached the upstream in 10s, want 20", u.n.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
