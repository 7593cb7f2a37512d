package canary

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/nginxconf"
	"github.com/releaseplan/terraform-provider-release/internal/nginxtest"
	"github.com/releaseplan/terraform-provider-release/internal/router"
)

// JSONLogFormat is the access log format the tests (and the docs) use.
const JSONLogFormat = `log_format release_json escape=json '{"time":"$time_iso8601","remote_addr":"$remote_addr","request":"$request",' ` +
	`'"status":"$status","request_time":"$request_time","upstream_addr":"$upstream_addr","http_user_agent":"$http_user_agent"}';`

type fixture struct {
	srv         *nginxtest.Server
	router      *router.Nginx
	blue, green *nginxtest.Upstream
	accessLog   string
}

// start runs nginx in front of blue and green with a JSON access log, and a
// client loop sending requests until the test ends.
func start(t *testing.T) *fixture {
	f := &fixture{blue: nginxtest.StartUpstream(t, "blue"), green: nginxtest.StartUpstream(t, "green")}
	dir := t.TempDir()
	f.accessLog = filepath.Join(dir, "app.access.json")
	f.router = &router.Nginx{ConfigFile: filepath.Join(dir, "app.conf"), UpstreamName: "app", Blue: f.blue.Addr, Green: f.green.Addr,
		TestCommand: nginxconf.SkipTest, ReloadCommand: "true"}
	if _, err := f.router.Switch(context.Background(), router.Blue, nil); err != nil {
		t.Fatal(err)
	}
	f.srv = nginxtest.Start(t, nginxtest.Config{
		HTTP:   JSONLogFormat + "\ninclude " + dir + "/app.conf;",
		Server: "access_log " + f.accessLog + " release_json;\nlocation / { proxy_pass http://app; proxy_next_upstream off; }",
	})
	f.router.TestCommand, f.router.ReloadCommand = f.srv.TestCommand(), f.srv.ReloadCommand()
	f.srv.Traffic(t, 2, 2*time.Millisecond)
	return f
}

func (f *fixture) rollout(th Thresholds, steps ...Step) *Rollout {
	return &Rollout{
		Steps: steps,
		Set: func(ctx context.Context, w int) error {
			f.router.Canary = router.Canary{Weight: w}
			_, err := f.router.Switch(ctx, router.Blue, nil)
			return err
		},
		Analysis: &Analysis{AccessLog: f.accessLog, Thresholds: th, Canary: "green", Active: "blue",
			CanaryUpstreams: []string{f.green.Addr}, ActiveUpstreams: []string{f.blue.Addr}},
	}
}

func (f *fixture) weight(t *testing.T) int {
	t.Helper()
	st, err := f.router.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Canary.Weight
}

var healthy = Thresholds{Window: 700 * time.Millisecond, MinRequests: 20, MaxErrorRate: 0.01, MaxP99: 500 * time.Millisecond}

// TestRolloutBehindNginx runs rollouts through a real nginx whose JSON access
// log the analysis reads, under a steady client loop.
func TestRolloutBehindNginx(t *testing.T) {
	f := start(t)
	ctx := context.Background()

	t.Run("healthy green passes every step", func(t *testing.T) {
		w, reports, err := f.rollout(healthy, Step{Weight: 25, Pause: time.Second}, Step{Weight: 50}).Run(ctx)
		if err != nil || w != 50 || len(reports) != 2 || f.weight(t) != 50 {
			t.Fatalf("weight %d, %d reports, err %v; nginx has %d", w, len(reports), err, f.weight(t))
		}
		for _, r := range reports {
			t.Logf("%s", r.String())
			if r.Canary.Requests < 20 || r.Active.Requests == 0 || r.Canary.Errors != 0 || r.Unparsed != 0 {
				t.Errorf("report %s (unparsed %d)", r.String(), r.Unparsed)
			}
			if r.Over < 600*time.Millisecond || r.Over > 2*time.Second {
				t.Errorf("window lasted %v", r.Over)
			}
		}
		if share := float64(reports[1].Canary.Requests) / float64(reports[1].Canary.Requests+reports[1].Active.Requests); share < 0.35 || share > 0.65 {
			t.Errorf("at weight 50 green served %.0f%% of the logged requests", share*100)
		}
	})

	t.Run("green answering 500 fails and goes back to 0", func(t *testing.T) {
		f.green.FailEvery.Store(5)
		defer f.green.FailEvery.Store(0)
		w, _, err := f.rollout(healthy, Step{Weight: 50}, Step{Weight: 100}).Run(ctx)
		var fail *Failure
		if !errors.As(err, &fail) || w != 0 || fail.Step != 1 || fail.RollbackErr != nil {
			t.Fatalf("weight %d, err %v", w, err)
		}
		msg := err.Error()
		t.Log(msg)
		for _, want := range []string{"green answered ", "% 5xx (", " of ", "limit 1%; blue 0%", "traffic is back on blue"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q: %s", want, msg)
			}
		}
		if rate := fail.Report.Canary.ErrorRate(); rate < 0.1 || rate > 0.3 {
			t.Errorf("measured green 5xx %.2f, the backend fails 1 in 5", rate)
		}
		if got := f.weight(t); got != 0 {
			t.Errorf("nginx still sends %d%% to green", got)
		}
	})

	t.Run("slow green fails on p99", func(t *testing.T) {
		f.green.Delay.Store(int64(30 * time.Millisecond))
		defer f.green.Delay.Store(0)
		th := healthy
		th.MaxP99, th.MinRequests = 10*time.Millisecond, 5
		_, _, err := f.rollout(th, Step{Weight: 50}).Run(ctx)
		if err == nil || !strings.Contains(err.Error(), "green's p99 latency was ") || !strings.Contains(err.Error(), "limit 10ms") {
			t.Fatalf("err = %v", err)
		}
		if f.weight(t) != 0 {
			t.Errorf("weight %d after the failure", f.weight(t))
		}
	})

	t.Run("too few requests is a failure", func(t *testing.T) {
		th := healthy
		th.MinRequests = 100000
		_, _, err := f.rollout(th, Step{Weight: 10}).Run(ctx)
		if err == nil || !strings.Contains(err.Error(), "green answered only ") || !strings.Contains(err.Error(), "at least 100000") {
			t.Fatalf("err = %v", err)
		}
		if f.weight(t) != 0 {
			t.Errorf("weight %d after the failure", f.weight(t))
		}
	})
}

func TestMeasureFromMarkAndRotation(t *testing.T) {
	log := filepath.Join(t.TempDir(), "access.log")
	line := func(up, status string) string {
		return `{"status":"` + status + `","request_time":"0.010","upstream_addr":"` + up + `"}` + "\n"
	}
	old := line("g:1", "500") + line("g:1", "500")
	if err := os.WriteFile(log, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &Analysis{Hosts: []host.Host{host.Local{}}, AccessLog: log, Canary: "green", Active: "blue",
		CanaryUpstreams: []string{"g:1"}, ActiveUpstreams: []string{"b:1"}}
	m, err := a.Mark(context.Background())
	if err != nil || m[0] != int64(len(old)) {
		t.Fatalf("mark %v %v", m, err)
	}
	fh, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprint(fh, line("g:1", "200")+line("b:1", "502"))
	fh.Close()
	r, err := a.Measure(context.Background(), m, time.Minute)
	if err != nil || r.Canary.Requests != 1 || r.Canary.Errors != 0 || r.Active.Requests != 1 || r.Active.Errors != 1 {
		t.Fatalf("after the mark: %s, %v", r.String(), err)
	}
	// Rotated: the new file is shorter than the mark, so it is read whole.
	if err := os.WriteFile(log, []byte(line("g:1", "503")), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = a.Measure(context.Background(), m, time.Minute)
	if err != nil || r.Canary.Requests != 1 || r.Canary.Errors != 1 {
		t.Fatalf("after rotation: %s, %v", r.String(), err)
	}
	missing := &Analysis{AccessLog: filepath.Join(t.TempDir(), "none.log")}
	if m, err := missing.Mark(context.Background()); err != nil || m[0] != 0 {
		t.Fatalf("missing log: %v %v", m, err)
	}
}

func TestFormatting(t *testing.T) {
	th := Thresholds{Window: 2 * time.Minute, MinRequests: 50, MaxErrorRate: 0.01, MaxP99: 500 * time.Millisecond}
	if got := th.Describe(); got != "5xx ≤ 1% and p99 ≤ 500ms over 2m on at least 50 requests" {
		t.Errorf("Describe = %q", got)
	}
	for d, want := range map[time.Duration]string{90 * time.Second: "1m30s", 2 * time.Hour: "2h", 1234 * time.Millisecond: "1.2s", 1500 * time.Microsecond: "2ms"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
	if Percent(0.072) != "7.2%" || Percent(0.001) != "0.1%" || Percent(0) != "0%" {
		t.Errorf("Percent: %s %s %s", Percent(0.072), Percent(0.001), Percent(0))
	}
}
