package canary

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/host/hosttest"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
)

// TestMeasureOverSSH reads the access logs of two load balancers over SSH from
// their marks and adds them up.
func TestMeasureOverSSH(t *testing.T) {
	const root = "/srv/release-canary-ssh"
	f := sshtest.Start(t, 2, sshtest.Root(root))
	logPath := root + "/access.json"
	line := func(up, status string) string {
		return `{"status":"` + status + `","request_time":"0.020","upstream_addr":"` + up + `"}` + "\n"
	}
	var hosts []host.Host
	for i := 0; i < 2; i++ {
		old := strings.Repeat(line("10.0.0.2:80", "500"), 1000) // before the window: must not count
		if err := os.WriteFile(f.Local(i, logPath), []byte(old), 0o644); err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, hosttest.Dial(t, f, i))
	}
	a := &Analysis{Hosts: hosts, AccessLog: logPath, Canary: "green", Active: "blue",
		CanaryUpstreams: []string{"10.0.0.2:80"}, ActiveUpstreams: []string{"10.0.0.1:80"},
		Thresholds: Thresholds{MinRequests: 10, MaxErrorRate: 0.1}}
	m, err := a.Mark(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, add := range []string{
		strings.Repeat(line("10.0.0.2:80", "200"), 9) + line("10.0.0.2:80", "502") + line("10.0.0.1:80", "200"),
		strings.Repeat(line("10.0.0.2:80", "200"), 10) + line("10.0.0.1:80", "200"),
	} {
		fh, err := os.OpenFile(filepath.Clean(f.Local(i, logPath)), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.WriteString(add); err != nil {
			t.Fatal(err)
		}
		fh.Close()
	}
	r, err := a.Measure(context.Background(), m, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if r.Canary.Requests != 20 || r.Canary.Errors != 1 || r.Active.Requests != 2 || len(r.Failures()) != 0 {
		t.Fatalf("over both hosts: %s; failures %q", r.String(), r.Failures())
	}
}
