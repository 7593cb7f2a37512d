package accesslog

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

var colours = Groups{"green": {"127.0.0.1:8082"}, "blue": {"127.0.0.1:8081"}}

func near(got, want time.Duration) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return d <= want/500
}

// Both recorded logs hold the same requests: two formats, escaped quotes in
// the request and the user agent, retries ("a, b") and internal redirects
// ("a : b"), a request nginx answered itself and a line in no format.
func TestAnalyzeRecordedLogs(t *testing.T) {
	for _, name := range []string{"json.log", "combined.log"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			res, err := Analyze(f, colours)
			if err != nil {
				t.Fatal(err)
			}
			g, b := res.Groups["green"], res.Groups["blue"]
			if g.Requests != 4 || g.Errors != 3 || !near(g.P99(), 250*time.Millisecond) {
				t.Errorf("green: %d requests, %d errors, p99 %v; want 4, 3, 250ms", g.Requests, g.Errors, g.P99())
			}
			if b.Requests != 2 || b.Errors != 0 || !near(b.P99(), 1201*time.Millisecond) {
				t.Errorf("blue: %d requests, %d errors, p99 %v; want 2, 0, 1.201s", b.Requests, b.Errors, b.P99())
			}
			if res.Lines != 8 || res.Others != 1 || res.Unparsed != 1 {
				t.Errorf("lines %d others %d unparsed %d; want 8, 1, 1", res.Lines, res.Others, res.Unparsed)
			}
			if g.ErrorRate() != 0.75 {
				t.Errorf("green error rate %v", g.ErrorRate())
			}
		})
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		line     string
		upstream string
		status   int
		rt       time.Duration
		ok       bool
	}{
		{`{"status":"200","request_time":"0.123","upstream_addr":"10.0.0.1:80, 10.0.0.2:80"}`, "10.0.0.2:80", 200, 123 * time.Millisecond, true},
		{`{ "upstream" : "unix:/run/app.sock" , "status" : 504 , "request_time" : 60.000 }`, "unix:/run/app.sock", 504, 60 * time.Second, true},
		{`{"request":"GET /\"status\":\"999\"","status":"201","upstream_addr":"-"}`, "", 201, 0, true},
		{`{"upstream_addr":"10.0.0.1:80"}`, "10.0.0.1:80", 0, 0, false},
		{`{"status":"20`, "", 0, 0, false},
		{`1.2.3.4 - - [03/Dec/2026:08:01:02 +0000] "GET / HTTP/1.1" 404 0 "-" "-"`, "", 404, 0, true},
		{`1.2.3.4 - - [03/Dec/2026:08:01:02 +0000] "GET / HTTP/1.1" 200 0 "-" "a=b \"c\"" rt=0.5 ua="10.0.0.3:80"`, "10.0.0.3:80", 200, 500 * time.Millisecond, true},
		{`1.2.3.4 - - [03/Dec/2026:08:01:02 +0000] "unterminated`, "", 0, 0, false},
		{``, "", 0, 0, false},
	}
	for _, tt := range tests {
		e, ok := ParseLine([]byte(tt.line))
		if ok != tt.ok || ok && (string(e.Upstream) != tt.upstream || e.Status != tt.status || e.RequestTime != tt.rt) {
			t.Errorf("ParseLine(%s) = %q %d %v %v; want %q %d %v %v", tt.line, e.Upstream, e.Status, e.RequestTime, ok, tt.upstream, tt.status, tt.rt, tt.ok)
		}
	}
}

func TestLatenciesQuantile(t *testing.T) {
	var l Latencies
	for i := 1; i <= 1000; i++ {
		l.Add(time.Duration(i) * time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 500 * time.Millisecond, 0.99: 990 * time.Millisecond, 1: time.Second} {
		if got := l.Quantile(q); !near(got, want) {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	var small Latencies
	small.Add(700 * time.Microsecond)
	small.Add(-time.Second)
	if small.Quantile(1) != 700*time.Microsecond || small.Quantile(0.5) != 0 {
		t.Errorf("exact buckets: %v %v", small.Quantile(1), small.Quantile(0.5))
	}
	var merged Latencies
	merged.Merge(&l)
	merged.Merge(&small)
	if merged.Count() != 1002 {
		t.Errorf("merged count %d", merged.Count())
	}
}

func TestAnalyzeSkipsHugeLines(t *testing.T) {
	log := `{"status":"200","request_time":"0.1","upstream_addr":"127.0.0.1:8082"}` + "\n" +
		strings.Repeat("x", 3*maxLine) + "\n" +
		`{"status":"500","request_time":"0.1","upstream_addr":"127.0.0.1:8082"}`
	res, err := Analyze(strings.NewReader(log), colours)
	if err != nil || res.Groups["green"].Requests != 2 || res.Groups["green"].Errors != 1 || res.Unparsed != 1 {
		t.Fatalf("%+v %v", res, err)
	}
}

// logGenerator produces size bytes of JSON access log from a few hundred
// pre-rendered lines (green answers 5xx for 1%), as fast as memory copies.
type logGenerator struct {
	lines     [][]byte
	i         int
	pending   []byte
	remaining int64
}

func newLogGenerator(size int64) *logGenerator {
	g := &logGenerator{remaining: size}
	for i := 0; i < 997; i++ {
		up, status := "10.0.0.1:8081", 200
		if i%10 == 0 {
			up = "10.0.0.2:8082"
			if i%1000 < 10 && i%100 == 0 {
				status = 502
			}
		}
		if i%37 == 0 {
			up = "10.0.0.2:8082, " + up
		}
		g.lines = append(g.lines, []byte(fmt.Sprintf(`{"time":"2026-12-03T08:%02d:%02d+00:00","remote_addr":"203.0.113.%d","request":"GET /api/items/%d?page=%d HTTP/1.1","status":"%d","body_bytes_sent":"%d","request_time":"0.%03d","upstream_addr":"%s","upstream_response_time":"0.%03d","http_referer":"https://example.org/","http_user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}`+"\n",
			i/60%60, i%60, i%250, i*7, i%9, status, 100+i*13%9000, i*37%1000, up, i*37%1000)))
	}
	return g
}

func (g *logGenerator) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && g.remaining > 0 {
		if len(g.pending) == 0 {
			g.pending = g.lines[g.i%len(g.lines)]
			g.i++
		}
		c := copy(p[n:], g.pending)
		if int64(c) > g.remaining {
			c = int(g.remaining)
		}
		g.pending = g.pending[c:]
		n += c
		g.remaining -= int64(c)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// BenchmarkAnalyze1GB analyses a 1 GB JSON access log on one goroutine and
// reports its throughput and the heap it needed; it fails below 200 MB/s or
// above 16 MB of heap.
func BenchmarkAnalyze1GB(b *testing.B) {
	const size = 1 << 30
	groups := Groups{"green": {"10.0.0.2:8082"}, "blue": {"10.0.0.1:8081"}}
	for i := 0; i < b.N; i++ {
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		res, err := Analyze(newLogGenerator(size), groups)
		elapsed := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		mbps := float64(res.Bytes) / 1e6 / elapsed.Seconds()
		b.ReportMetric(mbps, "MB/s")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/1e6, "MB-allocated")
		b.Logf("%d MB, %d lines in %v: %.0f MB/s; green %d requests, %.2f%% 5xx, p99 %v; allocated %.1f MB",
			res.Bytes>>20, res.Lines, elapsed.Round(time.Millisecond), mbps, res.Groups["green"].Requests,
			100*res.Groups["green"].ErrorRate(), res.Groups["green"].P99(), float64(after.TotalAlloc-before.TotalAlloc)/1e6)
		if res.Bytes != size || res.Unparsed > 1 {
			b.Fatalf("read %d bytes, %d unparsed lines", res.Bytes, res.Unparsed)
		}
		if after.TotalAlloc-before.TotalAlloc > 16<<20 {
			b.Errorf("the analysis allocated %d bytes: memory is not bounded", after.TotalAlloc-before.TotalAlloc)
		}
		if mbps < 200 {
			b.Errorf("%.0f MB/s, want at least 200", mbps)
		}
	}
}
