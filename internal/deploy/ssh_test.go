package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/host/hosttest"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// sshRoot is the folder every test host of this package has its own copy of.
const sshRoot = "/srv/release-deploy-ssh"

// sshTarget is the fixture's directory target whose releases are on one SSH
// host: hooks run there, and what is live has its folder there.
type sshTarget struct {
	*fleetTarget
}

func (t sshTarget) Current(ctx context.Context) (*target.Release, error) {
	rel, err := t.fleetTarget.Current(ctx)
	if rel != nil {
		rel.Path = path.Join(sshRoot, "releases", rel.ID)
	}
	return rel, err
}

// TestDeployOverSSH runs the backup command and a before_switch hook on a real
// OpenSSH server through host.SSH: the backup's bytes arrive in the store, the
// hook runs in the release folder on the host, and no temporary folder stays on
// the host, after success or failure.
func TestDeployOverSSH(t *testing.T) {
	fleet := sshtest.Start(t, 1, sshtest.Root(sshRoot))
	ctx := context.Background()
	h := hosttest.Dial(t, fleet, 0)

	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "ok")
	ft := &fleetTarget{Directory: f.target, hosts: []host.Host{h}, dir: func(_ int, id string) string {
		return path.Join(sshRoot, "releases", id)
	}}
	tg := sshTarget{ft}
	req := f.fleetRequest("1.0.0", ft)
	req.Target = tg
	first := mustDeploy(t, req)
	// The live release's folder on the host, where the backup command runs.
	if err := os.WriteFile(fleet.Local(0, path.Join(sshRoot, "releases", first.Release.ID, "data.sql")), []byte("INSERT 1;"), 0o600); err != nil {
		t.Fatal(err)
	}

	notes := path.Join(sshRoot, "backup-dirs")
	req = f.fleetRequest("1.0.1", ft)
	req.Target = tg
	req.BackupCommand = `dirname "$(dirname "$RELEASE_BACKUP_FILE")" >> ` + notes + `
{ printf '%s on %s: ' "$RELEASE_PREVIOUS_VERSION" "$RELEASE_HOST"; cat data.sql; } > "$RELEASE_BACKUP_FILE"`
	req.Hooks.BeforeSwitch = []string{`echo "$RELEASE_VERSION $RELEASE_HOST $PWD" > hook.out`}
	res := mustDeploy(t, req)

	rc, _, err := f.store.Get(ctx, "app-backup", strings.TrimPrefix(res.BackupID, "app-backup@"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if want := "1.0.0 on " + fleet.Addr(0) + ": INSERT 1;"; string(got) != want {
		t.Errorf("stored backup %q, want %q", got, want)
	}
	dir := path.Join(sshRoot, "releases", res.Release.ID)
	hook, err := os.ReadFile(fleet.Local(0, path.Join(dir, "hook.out")))
	if want := "1.0.1 " + fleet.Addr(0) + " " + dir + "\n"; err != nil || string(hook) != want {
		t.Errorf("the hook wrote %q (%v), want %q", hook, err, want)
	}

	req.BackupCommand = `dirname "$(dirname "$RELEASE_BACKUP_FILE")" >> ` + notes + `; echo "pg_dump: no database" >&2; exit 2`
	_, err = Deploy(ctx, req)
	var de *Error
	if !errors.As(err, &de) || de.Step != StepBackup || !strings.Contains(err.Error(), "The backup command failed on "+fleet.Addr(0)+": ") || !strings.Contains(err.Error(), "pg_dump: no database") {
		t.Fatalf("err = %v, want the backup command's failure on %s", err, fleet.Addr(0))
	}

	// A hook past the deployment's time limit is stopped on the host, and the
	// error says which limit, on which host.
	req = f.fleetRequest("1.0.0", ft)
	req.Target = tg
	req.Hooks.BeforeSwitch = []string{"sleep 30"}
	tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = Deploy(tctx, req)
	for _, want := range []string{`The before_switch hook #1 "sleep 30" failed on ` + fleet.Addr(0) + ": hook failed: the time limit of the deployment (timeouts) was reached", "the command timed out after"} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}

	b, err := os.ReadFile(fleet.Local(0, notes))
	if err != nil {
		t.Fatal(err)
	}
	made := strings.Fields(string(b))
	if len(made) != 2 {
		t.Fatalf("the backup command noted the folders %q, want two", made)
	}
	for _, d := range made {
		if _, err := h.Stat(ctx, d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the backup's temporary folder %s is still on the host (%v)", d, err)
		}
	}
}
