package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestOneOffsRunAfterTheSmokeTestAndRollBack: the one-off step comes after the
// smoke test and before the record; commands run in order, the first failure
// stops them and rolls back like any failure after the switch.
func TestOneOffsRunAfterTheSmokeTestAndRollBack(t *testing.T) {
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "ok")
	var ran []string
	withOneOffs := func(version string, fail string) Request {
		req := f.request(version)
		req.OneOffs = []string{"migrate", "warm"}
		req.OneOffWhere = "in one-off containers"
		req.OneOff = func(_ context.Context, cmd string) error {
			ran = append(ran, cmd+"@"+strings.TrimPrefix(f.serving(), "version "))
			if cmd == fail {
				return errors.New("exit status 1")
			}
			return nil
		}
		return req
	}
	names := func(steps []Step) string {
		var out []string
		for _, s := range steps {
			out = append(out, s.Name)
		}
		return strings.Join(out, " ")
	}
	// The fixture's requests do not say what is live: the apply checks for a downgrade.
	if got := names(Steps(withOneOffs("1.0.0", "").Facts)); got != "blocked downgrade fetch freeze switch one_off record rollback prune" {
		t.Fatalf("steps = %s", got)
	}
	if _, err := Deploy(context.Background(), withOneOffs("1.0.0", "")); err != nil {
		t.Fatal(err)
	}
	res, err := Deploy(context.Background(), withOneOffs("1.0.1", "migrate"))
	var de *Error
	if !errors.As(err, &de) || de.Step != StepOneOff || !res.RolledBack || !strings.Contains(err.Error(), "One-off command 1 of 2 failed: exit status 1.") {
		t.Fatalf("err = %v (rolled back %v)", err, res.RolledBack)
	}
	if f.serving() != "version 1.0.0" {
		t.Fatalf("serving %q after the failed one-off", f.serving())
	}
	if want := "[migrate@1.0.0 warm@1.0.0 migrate@1.0.1]"; fmt.Sprint(ran) != want {
		t.Fatalf("ran %v, want %s", ran, want)
	}
	req := f.request("1.0.1")
	req.OneOffs = []string{"migrate"}
	if _, err := Deploy(context.Background(), req); err == nil || !strings.Contains(err.Error(), "OneOff must be set") {
		t.Fatalf("one-offs without a runner: %v", err)
	}
}
