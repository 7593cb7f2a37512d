package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
)

// backupDirScript makes a private temporary folder (mktemp -d: mode 0700) on a
// host, with out/ for the backup file and work/ for a command with no live
// release to run in, and prints its path after a marker, so that whatever a
// login shell prints first is never taken for it.
const backupDirScript = `d=$(mktemp -d "${TMPDIR:-/tmp}/release-backup-XXXXXXXXXX") || exit 1
mkdir "$d/out" "$d/work" || { rm -rf "$d"; exit 1; }
printf '` + backupDirMarker + `%s\n' "$d"`

const backupDirMarker = "release-backup-dir "

// backupCleanupTimeout bounds removing the backup's temporary folder, which
// runs even when the deployment was cancelled.
const backupCleanupTimeout = time.Minute

// backup takes the backup before the switch: Request.Backup, or the backup
// command on the first host of the release, whose file streams back into the
// store as <name>-backup@<live version>+<timestamp>: named after the release
// whose data it holds.
func (r *run) backup(ctx context.Context) error {
	req := r.req
	if req.Backup != nil {
		return r.backupFunc(ctx)
	}
	h := r.hosts()[0].Host
	dir, err := makeBackupDir(ctx, h)
	if err != nil {
		return r.fail("backup", fmt.Errorf("%w: %w", ErrBackup, err), "Could not create a folder for the backup%s: %s. The switch did not happen: %s still serves %s.",
			onHost(h), hostErrText(h, err), req.Target.Describe(), r.serving())
	}
	defer r.removeBackupDir(ctx, h, dir)
	// The file is written outside the folder the command runs in, so that a command
	// archiving "." never reads the archive it is writing.
	file := path.Join(dir, "out", "backup")
	workdir := path.Join(dir, "work")
	// The command runs in what serves now: the data it backs up is that release's.
	if r.live != nil && r.live.Path != "" {
		workdir = r.live.Path
	}
	r.log("running the backup command", map[string]any{"environment": req.Environment, "host": h.Name()})
	env := append(r.releaseEnv("", h), "RELEASE_BACKUP_FILE="+file)
	if out, err := r.runCommand(ctx, h, workdir, req.BackupCommand, env); err != nil {
		return r.fail("backup", fmt.Errorf("%w: %w", ErrBackup, err), "The backup command failed%s: %s%s. The switch did not happen: %s still serves %s.",
			onHost(h), hostErrText(h, err), outputClause(out), req.Target.Describe(), r.serving())
	}
	f, err := h.Open(ctx, file)
	if err != nil {
		return r.fail("backup", fmt.Errorf("%w: %w", ErrBackup, err), "The backup command succeeded%s but did not write $RELEASE_BACKUP_FILE (%s). The switch did not happen: %s still serves %s.",
			onHost(h), hostErrText(h, err), req.Target.Describe(), r.serving())
	}
	defer f.Close()
	return r.storeBackup(ctx, f)
}

// makeBackupDir creates the backup's private temporary folder on h and
// returns its path.
func makeBackupDir(ctx context.Context, h host.Host) (string, error) {
	out, err := h.Run(ctx, host.Command{Script: backupDirScript})
	if err != nil {
		return "", fmt.Errorf("%w%s", err, outputClause(out))
	}
	for line := range strings.Lines(out) {
		if dir, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), backupDirMarker); ok && path.IsAbs(dir) && path.Clean(dir) == dir {
			return dir, nil
		}
	}
	return "", fmt.Errorf("mktemp -d did not print the folder it made (output: %q)", out)
}

// removeBackupDir removes the backup's temporary folder from h, also when the
// deployment failed or was cancelled; a failure is a warning.
func (r *run) removeBackupDir(ctx context.Context, h host.Host, dir string) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), backupCleanupTimeout)
	defer cancel()
	if err := h.RemoveAll(bg, dir); err != nil {
		r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("could not remove the backup's temporary folder %s%s (remove it by hand: it holds a copy of the data): %s", dir, onHost(h), hostErrText(h, err)))
	}
}

// storeBackup streams the backup file into the store.
func (r *run) storeBackup(ctx context.Context, f io.Reader) error {
	req := r.req
	live := ""
	if r.live != nil {
		live = r.live.Version
	}
	version := backupOf(live) + "+" + req.Now().UTC().Format("20060102T150405Z")
	meta := map[string]string{"environment": req.Environment, "deploying": r.id(), "holds_version": live}
	if r.prev != nil {
		meta["previous_version"] = r.prev.Version
	}
	obj, err := req.Store.Put(ctx, req.Name+BackupSuffix, version, f, "", meta)
	if err != nil {
		return r.fail("backup", fmt.Errorf("%w: %w", ErrBackup, err), "Could not store the backup as %s%s@%s: %v. The switch did not happen: %s still serves %s.", req.Name, BackupSuffix, version, err, req.Target.Describe(), r.serving())
	}
	r.res.Backup = &obj
	r.res.BackupID = obj.ID()
	r.log("backup stored", map[string]any{"backup": obj.ID(), "bytes": obj.Size, "sha256": obj.SHA256})
	return nil
}

// backupFunc takes the backup with Request.Backup, where the backup lives outside
// the artifact store (a managed database's own backups).
func (r *run) backupFunc(ctx context.Context) error {
	req := r.req
	name := req.BackupName
	if name == "" {
		name = "the backup"
	}
	started := time.Now()
	r.log("taking "+name, map[string]any{"environment": req.Environment})
	id, err := req.Backup(ctx)
	if err == nil && id == "" {
		err = errors.New("no backup id was returned")
	}
	if err != nil {
		return r.fail("backup", fmt.Errorf("%w: %w", ErrBackup, err), "Taking %s failed: %v. The switch did not happen: %s still serves %s. Check the database and its backups, then apply again.", name, err, req.Target.Describe(), r.serving())
	}
	r.res.BackupID = id
	r.log("backup done", map[string]any{"backup": id, "seconds": time.Since(started).Seconds()})
	return nil
}
