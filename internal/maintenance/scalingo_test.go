package maintenance_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/maintenance"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
)

func scalingoSwitch(t *testing.T, opts scalingotest.Options) (*maintenance.Scalingo, *scalingotest.Server) {
	t.Helper()
	fake := scalingotest.NewServer(t, opts)
	fake.CreateApp("histologe")
	c, err := scalingo.New(context.Background(), fake.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &maintenance.Scalingo{Client: c, App: "histologe", Restart: true, PollInterval: 5 * time.Millisecond}, fake
}

// TestScalingoMaintenanceWaitsForARestartInProgress: two changes at once (a
// maintenance banner and maintenance mode, say): the second restart meets "is
// restarting", waits and restarts again; both end with the containers running
// the last variables.
func TestScalingoMaintenanceWaitsForARestartInProgress(t *testing.T) {
	m, fake := scalingoSwitch(t, scalingotest.Options{StepDuration: 30 * time.Millisecond})
	fake.DeployByHand("histologe", "1.0.0", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, st := range []maintenance.State{{Enabled: true, Banner: true, Message: "Ce soir"}, {Enabled: true, Banner: true, Message: "Ce soir"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.Apply(ctx, st)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.Restarts("histologe"); n != 2 {
		t.Fatalf("%d restarts, want 2", n)
	}
	if got := fake.RunningEnv("histologe")["MAINTENANCE_BANNER_ENABLE"]; got != "1" {
		t.Fatalf("running MAINTENANCE_BANNER_ENABLE = %q", got)
	}
	var refused bool
	for _, c := range fake.Calls() {
		refused = refused || (c.Path == "/v1/apps/histologe/restart" && c.Status == 422)
	}
	if !refused {
		t.Fatal("no restart met \"is restarting\": the test did not overlap the restarts")
	}
}

// TestScalingoMaintenanceIsAllOrNothing: a restart Scalingo refuses (the app is
// stopped) puts the variables back as they were, and the error says so.
func TestScalingoMaintenanceIsAllOrNothing(t *testing.T) {
	m, fake := scalingoSwitch(t, scalingotest.Options{})
	fake.DeployByHand("histologe", "1.0.0", nil)
	fake.SetVariable("histologe", "MAINTENANCE_ENABLE", "0")
	fake.SetVariable("histologe", "MAINTENANCE_BANNER_ENABLE", "0")
	fake.StopApp("histologe")
	err := m.Apply(context.Background(), maintenance.State{Enabled: true, Message: "Mise à jour"})
	if err == nil || !strings.Contains(err.Error(), "refused to restart") || !strings.Contains(err.Error(), "put back") {
		t.Fatalf("err = %v, want the refusal and that the variables were put back", err)
	}
	vars := fake.Variables("histologe")
	if vars["MAINTENANCE_ENABLE"] != "0" || vars["MAINTENANCE_BANNER_ENABLE"] != "0" {
		t.Fatalf("variables after a refused restart: %v", vars)
	}
	if _, ok := vars["MAINTENANCE_BANNER_MESSAGE"]; ok {
		t.Fatalf("MAINTENANCE_BANNER_MESSAGE, which did not exist, is still set: %v", vars)
	}
	if n := fake.Restarts("histologe"); n != 0 {
		t.Fatalf("%d restarts", n)
	}
}

// TestScalingoMaintenanceOnANewApp: an app never deployed runs no container;
// Scalingo refuses its restart, and its first deployment starts with the
// variables, which stay.
func TestScalingoMaintenanceOnANewApp(t *testing.T) {
	m, fake := scalingoSwitch(t, scalingotest.Options{})
	if err := m.Apply(context.Background(), maintenance.State{Enabled: true, Message: "Bientôt"}); err != nil {
		t.Fatal(err)
	}
	if got := fake.Variables("histologe")["MAINTENANCE_ENABLE"]; got != "1" || fake.Restarts("histologe") != 0 {
		t.Fatalf("MAINTENANCE_ENABLE = %q after %d restarts", got, fake.Restarts("histologe"))
	}
}
