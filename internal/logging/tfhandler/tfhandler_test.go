package tfhandler_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/logging/tfhandler"
)

func TestInstallForwardsToTflog(t *testing.T) {
	var buf bytes.Buffer
	ctx := tfhandler.Install(tflogtest.RootLogger(context.Background(), &buf))
	l := logging.From(ctx).With(logging.Environment, "staging").WithGroup("http")
	logging.From(ctx).Warn("lock wait", logging.Attempt, 3)
	l.Debug("attempt", "status", 502)
	entries, err := tflogtest.MultilineJSONDecode(&buf)
	if err != nil || len(entries) != 2 {
		t.Fatalf("entries = %v, %v", entries, err)
	}
	if e := entries[0]; e["@level"] != "warn" || e["@message"] != "lock wait" || e["attempt"] != float64(3) {
		t.Errorf("first entry = %v", e)
	}
	if e := entries[1]; e["@level"] != "debug" || e["environment"] != "staging" || e["http.status"] != float64(502) {
		t.Errorf("second entry = %v", e)
	}
}

func TestDefaultUsesEachRecordsContext(t *testing.T) {
	tfhandler.InstallDefault()
	t.Cleanup(func() { logging.SetDefault(nil) })
	var first, second bytes.Buffer
	ctx1 := tflogtest.RootLogger(context.Background(), &first)
	ctx2 := tflogtest.RootLogger(context.Background(), &second)
	logging.Info(ctx1, "one", logging.Host, "local")
	logging.Info(ctx2, "two")
	logging.From(context.Background()).Info("nowhere to go") // dropped, no panic
	for _, c := range []struct {
		buf  *bytes.Buffer
		want string
	}{{&first, "one"}, {&second, "two"}} {
		entries, err := tflogtest.MultilineJSONDecode(c.buf)
		if err != nil || len(entries) != 1 || entries[0]["@message"] != c.want {
			t.Errorf("entries = %v, %v; want only %q", entries, err, c.want)
		}
	}
}
