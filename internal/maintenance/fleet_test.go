package maintenance

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

const fleetRoot = "/srv/release-maintenance-fleet"

func TestFleetDirectoryOnEveryHostAndPutBackOnFailure(t *testing.T) {
	f := sshtest.Start(t, 2, sshtest.Root(fleetRoot))
	for i := range 2 {
		if err := os.MkdirAll(f.Local(i, fleetRoot+"/app"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fl := &Fleet{Hosts: hosttest.DialAll(t, f), On: func(h host.Host) Switch { return &Directory{Path: fleetRoot + "/app", Host: h} }}
	ctx := context.Background()
	if !strings.Contains(fl.Describe(), f.Addr(0)) || !strings.Contains(fl.Describe(), f.Addr(1)) {
		t.Errorf("Describe() = %q, want both hosts named", fl.Describe())
	}

	on := State{Enabled: true, Message: "Back soon"}
	if err := fl.Apply(ctx, on); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		b, err := os.ReadFile(f.Local(i, fleetRoot+"/app/"+JSONFile))
		if err != nil || !strings.Contains(string(b), `"message": "Back soon"`) {
			t.Fatalf("host %d's maintenance.json = %s, %v", i, b, err)
		}
	}
	if s, err := fl.Read(ctx); err != nil || !s.Enabled || s.Message != "Back soon" {
		t.Fatalf("Read = %+v, %v", s, err)
	}

	// Host 2 holds a maintenance.json it does not own: turning maintenance off
	// stops there and host 1 gets its files back.
	foreign := f.Local(1, fleetRoot+"/app/"+JSONFile)
	if err := os.WriteFile(foreign, []byte(`{"hand":"written"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := fl.Apply(ctx, State{})
	var fe *FleetError
	if !errors.As(err, &fe) || fe.Host != f.Addr(1) || !errors.Is(err, ErrNotOwned) {
		t.Fatalf("Apply(off) = %v, want a FleetError naming host 2 and ErrNotOwned", err)
	}
	if want := f.Addr(0) + ": maintenance on (it had been changed and was put back)"; !strings.Contains(err.Error(), want) {
		t.Errorf("the error does not say %q:\n%s", want, err)
	}
	if b, err := os.ReadFile(f.Local(0, fleetRoot+"/app/"+JSONFile)); err != nil || !strings.Contains(string(b), "Back soon") {
		t.Errorf("host 1's maintenance.json was not put back: %s, %v", b, err)
	}
	if _, err := os.Stat(f.Local(0, fleetRoot+"/app/"+HTMLFile)); err != nil {
		t.Errorf("host 1's maintenance page was not put back: %v", err)
	}

	// Hosts that disagree.
	if err := os.Remove(foreign); err != nil {
		t.Fatal(err)
	}
	_, err = fl.Read(ctx)
	var de *DisagreementError
	if !errors.As(err, &de) || de.Summary() != f.Addr(0)+": on; "+f.Addr(1)+": off" {
		t.Fatalf("Read of disagreeing hosts = %v", err)
	}
	if err := fl.Apply(ctx, State{}); err != nil {
		t.Fatal(err)
	}
	if s, err := fl.Read(ctx); err != nil || s.Enabled {
		t.Fatalf("Read after off = %+v, %v", s, err)
	}
}

func TestFleetNginxPutsBackTheSnippet(t *testing.T) {
	f := sshtest.Start(t, 2, sshtest.Root(fleetRoot))
	fl := &Fleet{Hosts: hosttest.DialAll(t, f), On: func(h host.Host) Switch {
		return &Nginx{ConfigFile: fleetRoot + "/maintenance.conf", TestCommand: "test ! -e " + fleetRoot + "/broken", ReloadCommand: "true", Host: h}
	}}
	ctx := context.Background()
	if _, err := fl.Read(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read before any apply: %v, want ErrNotFound", err)
	}
	if err := fl.Apply(ctx, State{}); err != nil {
		t.Fatal(err)
	}
	off := map[int]string{}
	for i := range 2 {
		b, err := os.ReadFile(f.Local(i, fleetRoot+"/maintenance.conf"))
		if err != nil {
			t.Fatal(err)
		}
		off[i] = string(b)
	}
	if err := os.WriteFile(f.Local(1, fleetRoot+"/broken"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := fl.Apply(ctx, State{Enabled: true})
	var fe *FleetError
	if !errors.As(err, &fe) || fe.Host != f.Addr(1) {
		t.Fatalf("Apply(on) with host 2 broken = %v", err)
	}
	for i := range 2 {
		b, _ := os.ReadFile(f.Local(i, fleetRoot+"/maintenance.conf"))
		if string(b) != off[i] {
			t.Errorf("host %d's snippet was not put back:\n%s", i, b)
		}
		if _, err := os.Stat(f.Local(i, fleetRoot+"/maintenance.conf.html")); !os.IsNotExist(err) && i == 0 {
			t.Errorf("host 1's maintenance page was left behind (%v)", err)
		}
	}
}
