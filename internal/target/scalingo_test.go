package target_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// gz is a source archive as Scalingo wants it: one top-level folder.
func gz(t *testing.T, s string) []byte {
	t.Helper()
	return archivetest.TarGz(t, map[string]string{"histologe/index.php": s})
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
	open := storeOpener(st)
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

func storeOpener(st store.Store) target.Opener {
	return func(ctx context.Context, s target.Spec) (io.ReadCloser, error) {
		rc, obj, err := st.Get(ctx, s.Name, s.Version)
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{store.NewVerifyingReader(rc, s.SHA256, obj.Size), rc}, nil
	}
}

// TestScalingoTargetWrapsFlatArchives: Scalingo needs one top-level folder; a
// flat release is wrapped in one, and the app gets the same files.
func TestScalingoTargetWrapsFlatArchives(t *testing.T) {
	tg, fake, st := scalingoTarget(t)
	flat := archivetest.TarGz(t, map[string]string{"index.php": "<?php echo 1;", "src/Kernel.php": "kernel"})
	if _, err := activate(t, tg, publish(t, st, "1.0.0", flat), flat); err != nil {
		t.Fatal(err)
	}
	d := fake.Deployments("histologe-staging")[0]
	if d.Files["index.php"] != "<?php echo 1;" || d.Files["src/Kernel.php"] != "kernel" {
		t.Fatalf("files on Scalingo: %v", d.Files)
	}
	if bytes.Equal(d.Source, flat) {
		t.Fatal("the flat archive was uploaded as it is")
	}
}

func TestScalingoTargetRefusesBeforeAnythingChanges(t *testing.T) {
	tg, fake, st := scalingoTarget(t)
	data := gz(t, "x")
	spec := publish(t, st, "1.0.0+build.7", data)
	_, err := tg.Prepare(context.Background(), spec, bytes.NewReader(data))
	if err == nil || !strings.Contains(err.Error(), "image tag") {
		t.Fatalf("Prepare(1.0.0+build.7) = %v, want the git_ref rule", err)
	}
	notTar := []byte("not an archive")
	_, err = tg.Prepare(context.Background(), publish(t, st, "1.0.1", notTar), bytes.NewReader(notTar))
	if err == nil || !strings.Contains(err.Error(), "not a tar.gz") {
		t.Fatalf("Prepare(not a tar.gz) = %v", err)
	}
	tg.SourceURLFromStore = true
	flat := archivetest.TarGz(t, map[string]string{"index.php": "x", "composer.json": "{}"})
	_, err = tg.Prepare(context.Background(), publish(t, st, "1.0.2", flat), bytes.NewReader(flat))
	if err == nil || !strings.Contains(err.Error(), "one top-level folder") {
		t.Fatalf("Prepare(flat, from the store) = %v", err)
	}
	if n := len(fake.Calls()); n != 0 {
		t.Fatalf("%d requests to Scalingo", n)
	}
}

// TestScalingoTargetVariables: the variables are set in one request before the
// deployment, which starts with them; a failed deployment or a rollback puts
// them back; variables not named are left alone.
func TestScalingoTargetVariables(t *testing.T) {
	ctx := context.Background()
	tg, fake, st := scalingoTarget(t)
	fake.SetVariable("histologe-staging", "FEATURE_X", "0")
	fake.SetVariable("histologe-staging", "OWNED_ELSEWHERE", "keep")
	v1, v2 := gz(t, "v1"), gz(t, "v2")
	s1, s2 := publish(t, st, "1.0.0", v1), publish(t, st, "1.0.1", v2)
	if _, err := activate(t, tg, s1, v1); err != nil {
		t.Fatal(err)
	}
	tg.Variables = map[string]string{"FEATURE_X": "1", "API_KEY": "s3cr3t"}
	fake.FailNextDeployment("histologe-staging", "build-error")
	_, err := activate(t, tg, s2, v2)
	if err == nil || !strings.Contains(err.Error(), "put back") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("failed deployment: %v", err)
	}
	want := map[string]string{"FEATURE_X": "0", "OWNED_ELSEWHERE": "keep"}
	if got := fake.Variables("histologe-staging"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("variables after a failed deployment = %v, want %v", got, want)
	}
	puts := fake.CountCalls("PUT", "/v1/apps/histologe-staging/variables")
	if _, err := activate(t, tg, s2, v2); err != nil {
		t.Fatal(err)
	}
	if n := fake.CountCalls("PUT", "/v1/apps/histologe-staging/variables") - puts; n != 1 {
		t.Fatalf("%d PUT /variables for one deployment, want one", n)
	}
	ds := fake.Deployments("histologe-staging")
	if env := ds[len(ds)-1].Env; env["FEATURE_X"] != "1" || env["API_KEY"] != "s3cr3t" || env["OWNED_ELSEWHERE"] != "keep" {
		t.Fatalf("the deployment started with %v", env)
	}
	prev, _ := tg.Current(ctx)
	prev.Version, prev.SHA256, prev.Name, prev.GitCommit = s1.Version, s1.SHA256, s1.Name, s1.GitCommit
	if err := tg.Restore(ctx, prev, storeOpener(st)); err != nil {
		t.Fatal(err)
	}
	if got := fake.Variables("histologe-staging"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("variables after the rollback = %v, want %v", got, want)
	}
	if got := fake.RunningEnv("histologe-staging"); got["FEATURE_X"] != "0" || got["API_KEY"] != "" {
		t.Fatalf("the restored release runs with %v", got)
	}
}

func TestScalingoTargetOneOff(t *testing.T) {
	tg, fake, st := scalingoTarget(t)
	v1 := gz(t, "v1")
	if _, err := activate(t, tg, publish(t, st, "1.0.0", v1), v1); err != nil {
		t.Fatal(err)
	}
	fake.SetOneOff("histologe-staging", "php bin/console app:migrate", scalingotest.OneOff{Output: "ok\n"})
	fake.SetOneOff("histologe-staging", "php bin/console app:fail", scalingotest.OneOff{Output: "boom\n", ExitCode: 2})
	fake.SetOneOff("histologe-staging", "sleep infinity", scalingotest.OneOff{Hang: true})
	tg.OneOffSize = "S"
	if err := tg.RunOneOff(context.Background(), "php bin/console app:migrate"); err != nil {
		t.Fatal(err)
	}
	if err := tg.RunOneOff(context.Background(), "php bin/console app:fail"); err == nil || !strings.Contains(err.Error(), "exited with code 2") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
	tg.OneOffTimeout = 50 * time.Millisecond
	if err := tg.RunOneOff(context.Background(), "sleep infinity"); err == nil || !strings.Contains(err.Error(), "did not finish within 50ms") {
		t.Fatalf("err = %v", err)
	}
	if oo := fake.OneOffs("histologe-staging"); len(oo) != 3 || oo[0].Size != "S" || !oo[0].Attached {
		t.Fatalf("one-offs = %+v", oo)
	}
}
