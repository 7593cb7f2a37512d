package history

import (
	"context"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func ev(minute int, kind, version string) backend.Event {
	return backend.Event{Time: t0.Add(time.Duration(minute) * time.Minute), Environment: "staging", Kind: kind, Name: "app", Version: version, SHA256: "sha-" + version, Actor: "actor-" + version}
}

func TestCurrent(t *testing.T) {
	tests := []struct {
		name        string
		events      []backend.Event // oldest first, as appended
		queryName   string
		wantVersion string
		wantSince   time.Time
		wantHealthy bool
		wantLast    string
	}{
		{name: "nothing deployed"},
		{name: "one deployment", events: []backend.Event{ev(0, backend.KindDeployed, "1.0.0")},
			wantVersion: "1.0.0", wantSince: t0, wantHealthy: true, wantLast: backend.KindDeployed},
		{name: "newest deployment wins", events: []backend.Event{ev(0, backend.KindDeployed, "1.0.0"), ev(5, backend.KindDeployed, "1.1.0")},
			wantVersion: "1.1.0", wantSince: t0.Add(5 * time.Minute), wantHealthy: true, wantLast: backend.KindDeployed},
		{name: "failed then rolled back", events: []backend.Event{ev(0, backend.KindDeployed, "1.0.0"), ev(5, backend.KindFailed, "1.1.0"), ev(5, backend.KindRolledBack, "1.0.0")},
			wantVersion: "1.0.0", wantSince: t0.Add(5 * time.Minute), wantHealthy: false, wantLast: backend.KindRolledBack},
		{name: "failed before the switch keeps the previous release", events: []backend.Event{ev(0, backend.KindDeployed, "1.0.0"), ev(5, backend.KindFailed, "1.1.0")},
			wantVersion: "1.0.0", wantSince: t0, wantHealthy: false, wantLast: backend.KindFailed},
		{name: "first deployment rolled back to nothing", events: []backend.Event{ev(0, backend.KindFailed, "1.0.0"), ev(0, backend.KindRolledBack, "")},
			wantVersion: "", wantSince: t0, wantHealthy: false, wantLast: backend.KindRolledBack},
		{name: "locks do not change what runs", events: []backend.Event{ev(0, backend.KindDeployed, "1.0.0"), ev(9, backend.KindLockReleased, "")},
			wantVersion: "1.0.0", wantSince: t0, wantHealthy: true, wantLast: backend.KindLockReleased},
		{name: "filter by artifact name", queryName: "app",
			events:      []backend.Event{ev(0, backend.KindDeployed, "1.0.0"), {Time: t0.Add(time.Minute), Environment: "staging", Kind: backend.KindDeployed, Name: "worker", Version: "9.0.0"}},
			wantVersion: "1.0.0", wantSince: t0, wantHealthy: true, wantLast: backend.KindDeployed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := backend.NewDirectory(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, e := range tt.events {
				if err := b.Append(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			// Another environment never leaks in.
			if err := b.Append(ctx, backend.Event{Time: t0.Add(time.Hour), Environment: "production", Kind: backend.KindDeployed, Name: "app", Version: "0.9.0"}); err != nil {
				t.Fatal(err)
			}
			live, err := Current(ctx, b, "staging", tt.queryName)
			if err != nil {
				t.Fatalf("Current: %v", err)
			}
			if live.Version != tt.wantVersion || live.Running() != (tt.wantVersion != "") {
				t.Errorf("Version = %q, want %q", live.Version, tt.wantVersion)
			}
			if tt.wantVersion != "" && (live.SHA256 != "sha-"+tt.wantVersion || live.By != "actor-"+tt.wantVersion || live.Name != "app") {
				t.Errorf("live = %+v", live)
			}
			if !live.Since.Equal(tt.wantSince) {
				t.Errorf("Since = %v, want %v", live.Since, tt.wantSince)
			}
			if live.Healthy() != tt.wantHealthy {
				t.Errorf("Healthy = %v, want %v", live.Healthy(), tt.wantHealthy)
			}
			gotLast := ""
			if live.LastEvent != nil {
				gotLast = live.LastEvent.Kind
			}
			if gotLast != tt.wantLast {
				t.Errorf("LastEvent kind = %q, want %q", gotLast, tt.wantLast)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	b, err := backend.NewDirectory(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		if err := b.Append(ctx, ev(i, backend.KindDeployed, v)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{"all, newest first", 0, []string{"1.2.0", "1.1.0", "1.0.0"}},
		{"limited", 2, []string{"1.2.0", "1.1.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, err := Query(ctx, b, "staging", "app", tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range events {
				got = append(got, e.Version)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("versions = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("versions = %v, want %v", got, tt.want)
				}
			}
		})
	}
	if _, err := Query(ctx, b, "staging", "", -1); err == nil {
		t.Error("a negative limit was accepted")
	}
}
