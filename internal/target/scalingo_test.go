package target_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func scalingoTarget(t *testing.T) (*target.Scalingo, *scalingotest.Server, store.Store) {
	t.Helper()
	fake := scalingotest.NewServer(t, scalingotest.Options{})
	fake.CreateApp("histologe-staging")
	c, err := scalingo.New(context.Background(), fake.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewDirectory(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &target.Scalingo{Client: c, App: "histologe-staging", Name: "histologe", Store: st, PollInterval: 5 * time.Millisecond, TempDir: t.TempDir()}, fake, st
}

func publish(t *testing.T, st store.Store, version string, data []byte) target.Spec {
	t.Helper()
	obj, err := st.Put(context.Background(), "histologe", version, bytes.NewReader(data), "", map[string]string{"git_commit": "c-" + version})
	if err != nil {
		t.Fatal(err)
	}
	return target.Spec{Name: "histologe", Version: version, SHA256: obj.SHA256, GitCommit: "c-" + version}
}

func activate(t *testing.T, tg *target.Scalingo, spec target.Spec, data []byte) (*target.Prepared, error) {
	t.Helper()
	ctx := context.Background()
	p, err := tg.Prepare(ctx, spec, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return p, tg.Activate(ctx, p)
}

func TestScalingoTarget(t *testing.T) {
	ctx := context.Background()
	tg, fake, st := scalingoTarget(t)
	if cur, err := tg.Current(ctx); err != nil || cur != nil {
		t.Fatalf("fresh app current = %+v, %v", cur, err)
	}
	v1 := gz(t, "v1")
	s1 := publish(t, st, "1.7.3", v1)
	p, err := activate(t, tg, s1, v1)
	if err != nil {
		t.Fatal(err)
	}
	if p.Release.ID == "" {
		t.Fatal("the release has no deployment id")
	}
	cur, err := tg.Current(ctx)
	if err != nil || cur.Version != "1.7.3" || cur.SHA256 != s1.SHA256 || cur.GitCommit != "c-1.7.3" || cur.ID != p.Release.ID {
		t.Fatalf("current = %+v, %v", cur, err)
	}
	if deps := fake.Deployments("histologe-staging"); !bytes.Equal(deps[0].Source, v1) {
		t.Fatal("Scalingo did not receive the verified bytes")
	}

	// A failed build changes nothing and says why.
	v2 := gz(t, "v2")
	s2 := publish(t, st, "1.7.4", v2)
	fake.FailNextDeployment("histologe-staging", "build-error")
	_, err = activate(t, tg, s2, v2)
	if err == nil || !strings.Contains(err.Error(), "build-error") || !strings.Contains(err.Error(), "composer install failed") {
		t.Fatalf("err = %v, want the build error and its output", err)
	}
	if cur, _ := tg.Current(ctx); cur.Version != "1.7.3" {
		t.Fatalf("current after a failed build = %s", cur.Version)
	}

	// Success, then Restore puts 1.7.3 back from the store.
	if _, err := activate(t, tg, s2, v2); err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context, s target.Spec) (io.ReadCloser, error) {
		rc, obj, err := st.Get(ctx, s.Name, s.Version)
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{store.NewVerifyingReader(rc, s.SHA256, obj.Size), rc}, nil
	}
	if err := tg.Restore(ctx, cur, open); err != nil {
		t.Fatal(err)
	}
	if got := fake.LiveVersion("histologe-staging"); got != "1.7.3" {
		t.Fatalf("live after restore = %s", got)
	}
	if err := tg.Restore(ctx, nil, open); err == nil || !strings.Contains(err.Error(), "scale") {
		t.Fatalf("Restore(nil) = %v", err)
	}

	// A hand deploy is the live release, without a known sha256.
	fake.DeployByHand("histologe-staging", "hotfix", gz(t, "hand"))
	cur, err = tg.Current(ctx)
	if err != nil || cur.Version != "hotfix" || cur.SHA256 != "" {
		t.Fatalf("current after hand deploy = %+v, %v", cur, err)
	}
	if err := tg.Restore(ctx, cur, open); err == nil || !strings.Contains(err.Error(), "not an artifact") {
		t.Fatalf("restoring a hand deploy = %v", err)
	}
}

func TestScalingoTargetPrepareConsumesAndDiscards(t *testing.T) {
	tg, fake, _ := scalingoTarget(t)
	data := gz(t, "x")
	sum := sha256.Sum256(data)
	p, err := tg.Prepare(context.Background(), target.Spec{Name: "histologe", Version: "1.0.0", SHA256: hex.EncodeToString(sum[:])}, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Discard(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if n := fake.CountCalls("POST", "/v1/"); n != 0 {
		t.Fatalf("Prepare/Discard touched Scalingo: %d POSTs", n)
	}
}
