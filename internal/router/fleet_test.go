package router

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/host/hosttest"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
)

const fleetRoot = "/srv/release-router-fleet"

// nginxFleet is an nginx router on every host of f: its test command fails on
// a host holding <root>/broken, its reload command counts reloads in
// <root>/reloads.
func nginxFleet(hosts []host.Host) *Fleet {
	return &Fleet{Hosts: hosts, On: func(h host.Host) Router {
		return &Nginx{
			ConfigFile: fleetRoot + "/app.conf", UpstreamName: "app", Blue: "10.0.0.1:8081", Green: "10.0.0.1:8082",
			TestCommand:   "test ! -e " + fleetRoot + "/broken",
			ReloadCommand: "echo reload >> " + fleetRoot + "/reloads",
			Host:          h,
		}
	}}
}

func readLocal(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFleetNginxSwitchesEveryHostAndPutsBackOnFailure(t *testing.T) {
	f := sshtest.Start(t, 2, sshtest.Root(fleetRoot))
	fl := nginxFleet(hosttest.DialAll(t, f))
	ctx := context.Background()

	if _, err := fl.Read(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read before any switch: %v, want ErrNotFound", err)
	}
	checks := 0
	check := func(context.Context, Colour, string) error { checks++; return nil }
	st, err := fl.Switch(ctx, Blue, check)
	if err != nil || st.Active != Blue {
		t.Fatalf("Switch(blue) = %+v, %v", st, err)
	}
	if checks != 1 {
		t.Errorf("the health check ran %d times for 2 hosts, want once", checks)
	}
	for i := range 2 {
		if c := readLocal(t, f.Local(i, fleetRoot+"/app.conf")); !strings.Contains(c, "upstream app {\n    server 10.0.0.1:8081;") {
			t.Fatalf("host %d's include file does not route to blue:\n%s", i, c)
		}
	}
	blueOn0 := readLocal(t, f.Local(0, fleetRoot+"/app.conf"))

	// Host 2's nginx rejects the next configuration: host 1, switched first, is put back.
	if err := os.WriteFile(f.Local(1, fleetRoot+"/broken"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = fl.Switch(ctx, Green, nil)
	var fe *FleetError
	if !errors.As(err, &fe) || fe.Host != f.Addr(1) {
		t.Fatalf("Switch(green) with host 2 broken: %v, want a FleetError naming %s", err, f.Addr(1))
	}
	var se *SwitchError
	if !errors.As(err, &se) || se.Stage != StageTest {
		t.Errorf("the error does not carry host 2's test failure: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{f.Addr(0) + ": blue (10.0.0.1:8081) (it had been changed and was put back)", f.Addr(1) + ": blue (10.0.0.1:8081) (the host that failed)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}
	if got := readLocal(t, f.Local(0, fleetRoot+"/app.conf")); got != blueOn0 {
		t.Errorf("host 1's include file was not put back:\n%s", got)
	}
	// Host 1: blue switch, green switch, reload of the restored file.
	if got := strings.Count(readLocal(t, f.Local(0, fleetRoot+"/reloads")), "reload"); got != 3 {
		t.Errorf("host 1 reloaded %d times, want 3 (blue, green, restored blue)", got)
	}
	if st, err := fl.Read(ctx); err != nil || st.Active != Blue {
		t.Errorf("Read after the failed switch = %+v, %v; want blue on every host", st, err)
	}

	// A host switched by hand: the hosts disagree.
	if err := os.Remove(f.Local(1, fleetRoot+"/broken")); err != nil {
		t.Fatal(err)
	}
	if _, err := fl.On(fl.Hosts[1]).Switch(ctx, Green, nil); err != nil {
		t.Fatal(err)
	}
	st, err = fl.Read(ctx)
	if err != nil || st.Active != "" || !strings.Contains(st.Live, f.Addr(0)+": blue (10.0.0.1:8081)") || !strings.Contains(st.Live, f.Addr(1)+": green (10.0.0.1:8082)") {
		t.Errorf("Read of disagreeing hosts = %+v, %v; want no active colour and each host named", st, err)
	}
	if _, err := fl.Switch(ctx, Green, nil); err != nil {
		t.Fatal(err)
	}
	if st, err := fl.Read(ctx); err != nil || st.Active != Green {
		t.Errorf("Read after converging = %+v, %v", st, err)
	}
}

func TestFleetNginxRemoveAndHostsMissingTheFile(t *testing.T) {
	f := sshtest.Start(t, 2, sshtest.Root(fleetRoot))
	fl := nginxFleet(hosttest.DialAll(t, f))
	ctx := context.Background()
	if _, err := fl.On(fl.Hosts[0]).Switch(ctx, Blue, nil); err != nil {
		t.Fatal(err)
	}
	st, err := fl.Read(ctx)
	if err != nil || st.Active != "" || !strings.Contains(st.Live, f.Addr(1)+": nothing") {
		t.Fatalf("Read with host 2 missing its file = %+v, %v", st, err)
	}
	if _, err := fl.Switch(ctx, Blue, nil); err != nil {
		t.Fatal(err)
	}
	if err := fl.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := os.Stat(f.Local(i, fleetRoot+"/app.conf")); !os.IsNotExist(err) {
			t.Errorf("host %d still has its include file (%v)", i, err)
		}
	}
}

func TestFleetDirectorySwitchesEveryHost(t *testing.T) {
	f := sshtest.Start(t, 2, sshtest.Root(fleetRoot))
	hosts := hosttest.DialAll(t, f)
	for i := range 2 {
		for _, c := range []string{"blue", "green"} {
			if err := os.MkdirAll(f.Local(i, fleetRoot+"/site/"+c), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	fl := &Fleet{Hosts: hosts, On: func(h host.Host) Router { return &Directory{Path: fleetRoot + "/site", Host: h} }}
	ctx := context.Background()
	if _, err := fl.Switch(ctx, Green, nil); err != nil {
		t.Fatal(err)
	}
	// Host 2 lost its blue folder: switching to blue fails there, host 1 goes back to green.
	if err := os.RemoveAll(f.Local(1, fleetRoot+"/site/blue")); err != nil {
		t.Fatal(err)
	}
	_, err := fl.Switch(ctx, Blue, nil)
	var fe *FleetError
	if !errors.As(err, &fe) || fe.Host != f.Addr(1) {
		t.Fatalf("Switch(blue) = %v, want a FleetError naming host 2", err)
	}
	for i := range 2 {
		if target, err := os.Readlink(f.Local(i, fleetRoot+"/site/live")); err != nil || target != "green" {
			t.Errorf("host %d's live link = %q, %v; want green", i, target, err)
		}
	}
}

func TestFleetNginxCanaryOnEveryHostAndDisagreement(t *testing.T) {
	f := sshtest.Start(t, 2, sshtest.Root(fleetRoot))
	hosts := hosttest.DialAll(t, f)
	ctx := context.Background()
	withCanary := func(c Canary) *Fleet {
		fl := nginxFleet(hosts)
		on := fl.On
		fl.On = func(h host.Host) Router { n := on(h).(*Nginx); n.Canary = c; return n }
		return fl
	}
	st, err := withCanary(Canary{Weight: 20, Sticky: StickyClientIP}).Switch(ctx, Blue, nil)
	if err != nil || st.Canary != (Canary{Weight: 20, Sticky: StickyClientIP}) {
		t.Fatalf("switch: %+v %v", st, err)
	}
	for i := range hosts {
		if got := readLocal(t, f.Local(i, fleetRoot+"/app.conf")); !strings.Contains(got, "hash $remote_addr consistent;") || !strings.Contains(got, "weight=20;") {
			t.Fatalf("host %d:\n%s", i, got)
		}
	}
	// Someone changes the weight on the second host only.
	n := withCanary(Canary{Weight: 50}).On(hosts[1])
	if _, err := n.Switch(ctx, Blue, nil); err != nil {
		t.Fatal(err)
	}
	st, err = nginxFleet(hosts).Read(ctx)
	if err != nil || st.Active != "" || !strings.Contains(st.Live, "20% to green (sticky by client address), 80% to blue") || !strings.Contains(st.Live, "50% to green, 50% to blue") {
		t.Fatalf("Read of disagreeing hosts = %+v, %v", st, err)
	}
}
