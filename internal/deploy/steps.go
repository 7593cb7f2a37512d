package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/releaseplan/terraform-provider-release/internal/check"
)

// Names of the steps of a deployment, in the order Steps lists them. Error.Step
// uses the same words where a step can fail ("verify" is a failure of StepFetch).
const (
	StepFence   = "fence"
	StepBlocked = "blocked"
	// StepDowngrade is a rollback or an allowed downgrade to a lower version
	// than the live one, or the check that the apply does not go below the
	// live version when the plan cannot know it.
	StepDowngrade    = "downgrade"
	StepFetch        = "fetch"
	StepBackup       = "backup"
	StepBeforeSwitch = "before_switch"
	// StepBeforeSwitchOnce runs the before_switch_once hooks on the first host.
	StepBeforeSwitchOnce = "before_switch_once"
	StepFenceAgain       = "fence_again"
	StepSwitch           = "switch"
	StepAfterSwitch      = "after_switch"
	StepSmokeTest        = "smoke_test"
	// StepOneOff runs the one-off commands of a PaaS target (Facts.OneOffs).
	StepOneOff   = "one_off"
	StepRecord   = "record"
	StepRollback = "rollback"
	StepPrune    = "prune"
)

// Lock says how a deployment is fenced, in the words of the configuration: the
// plan names the token, never quotes it, because a lock acquired in the same
// apply has no token yet when the plan is made.
type Lock int

const (
	// NoLock: the deployment is not fenced (Request.LockToken must be 0).
	NoLock Lock = iota
	// LockToken: the token of a lock held across runs (lock_token).
	LockToken
	// RunLockToken: the token of the run's own lock (lock_token_wo).
	RunLockToken
)

// Build is set for a target that builds and runs the release itself (a PaaS
// such as Scalingo): nothing is extracted on the target, the verified bytes (or
// the store's URL of them) are deployed under git_ref = version, and a failed
// build leaves the previous containers running.
type Build struct {
	// FromStoreURL gives the PaaS the artifact store's URL instead of uploading
	// the bytes (which are still read and verified first).
	FromStoreURL bool
	// Variables names the environment variables set with the deployment, as
	// the plan shows them ("FEATURE_X", "API_KEY (sensitive)"); never values.
	Variables []string
}

// Live is what the plan expects to be live when the apply starts. The zero Live
// means nothing is live.
type Live struct {
	// ReleaseID and Version name the live release. With Problem set and no
	// ReleaseID, `current` leads to no release of the target.
	ReleaseID, Version string
	// Status is empty for a finished deployment, else why it is not one
	// ("unverified", "failed").
	Status string
	// Problem says in a sentence why the live release is not a finished
	// deployment ("its after_switch hooks and smoke test never finished").
	Problem string
}

// Facts are what is known of a deployment before it runs: the configuration,
// and what the prior state says is live. The plan shows Steps(facts) and the
// apply runs Steps(facts) with the same facts, so the two cannot disagree. Every
// field must be known when the plan is made; a caller that cannot know one
// shows no steps rather than steps that might change.
type Facts struct {
	Environment string
	// Name and Version name the artifact in the store; SHA256 is the expected
	// sha256 of its bytes (empty: the sha256 recorded by the store).
	Name, Version, SHA256 string
	// Lock says whether and how Request.LockToken fences the deployment.
	Lock Lock
	// AllowBlocked deploys a blocked version anyway.
	AllowBlocked bool
	// FreezeOverride, when set, deploys even while the environment is frozen
	// (the ticket and reason, recorded in the history).
	FreezeOverride string
	// Downgrade is set when Version is lower than Live.Version and the plan let
	// it through (CheckDowngrade): a rollback, or allow_downgrade.
	Downgrade *Downgrade
	// AllowDowngrade lets a version lower than the live one through even when
	// it was never live in the environment before.
	AllowDowngrade bool
	// TargetName names the target as Target.Describe does ("directory /srv/app").
	TargetName string
	// Hosts names the target's hosts as the plan names them, in the target's
	// order (the first is where the backup command and before_switch_once hooks
	// run); empty for a target with no hosts list, whose commands run on the
	// machine Terraform runs on. The steps name them; the apply runs on the
	// hosts the prepared release names (target.Prepared.Hosts) and warns when
	// they differ.
	Hosts []string
	// MaxParallel bounds how many hosts run hooks or smoke tests at once (0:
	// DefaultMaxParallel).
	MaxParallel int
	// Build is set for a target that builds the release itself (nil: a target
	// that holds release folders and switches between them).
	Build *Build

	// Live is what the plan expects to be live when the apply starts; nil when
	// the plan cannot know (the target serves something no state recorded).
	Live *Live
	// Previous is the verified version a failure after the switch goes back to;
	// "" when there is none. Unused when Live is nil.
	Previous string
	// Reverify says that the live release (Live) is the one this deployment
	// makes, left unfinished by an earlier deployment: it is verified again.
	Reverify bool

	Hooks Hooks
	// BackupCommand runs before the switch with RELEASE_BACKUP_FILE set; the file
	// holds the data of the live release and is stored as
	// <name>-backup@<live version>+<timestamp> (0.0.0 when nothing is live).
	BackupCommand string
	// BackupFunc announces the backup Request.Backup takes, as the plan says it
	// ("a manual backup of the postgresql addon of Scalingo app histologe through
	// Scalingo's database API"). Set exactly when Request.Backup is; exclusive
	// with BackupCommand.
	BackupFunc string
	// BackupName names that backup in messages ("the Scalingo backup of
	// postgresql"); default "the backup".
	BackupName string
	// SmokeTest, when set, is run after the switch and again after a rollback.
	SmokeTest *check.HTTPCheck
	// OneOffs are commands run after the smoke test, in order, by
	// Request.OneOff (one-off containers of a PaaS); a failure is a failure
	// after the switch. OneOffWhere says where they run ("in one-off
	// containers of Scalingo app x, attached, each within 10m0s").
	OneOffs           []string
	OneOffWhere       string
	RollbackOnFailure bool
	// KeepReleases is how many releases Prune keeps (0: DefaultKeepReleases;
	// negative: do not prune, for targets that keep no releases).
	KeepReleases int
}

// Step is one step of a deployment: what the plan shows and what the apply runs.
type Step struct {
	Name        string
	Description string
	// OnFailure marks the step that runs only when a step after the switch
	// fails: the rollback, or leaving the failed release live.
	OnFailure bool

	do func(r *run, ctx context.Context) error
}

// Steps lists the steps of the deployment f describes, in the order the apply
// runs them; the step marked OnFailure runs only after a failure once the new
// release is live. A failure before the switch stops the deployment where it is.
func Steps(f Facts) []Step {
	id := f.Name + "@" + f.Version
	var steps []Step
	add := func(name string, do func(*run, context.Context) error, format string, args ...any) {
		steps = append(steps, Step{Name: name, Description: fmt.Sprintf(format, args...), do: do})
	}
	if f.Lock != NoLock {
		add(StepFence, (*run).fence, "check that %s before anything changes", f.lockSentence())
	}
	if f.AllowBlocked {
		add(StepBlocked, (*run).checkBlocked, "deploy %s even if it is blocked (allow_blocked)", id)
	} else {
		add(StepBlocked, (*run).checkBlocked, "refuse %s if it is blocked", id)
	}
	if f.hasDowngradeStep() {
		add(StepDowngrade, (*run).checkDowngrade, "%s", f.downgradeSentence())
	}
	add(StepFetch, (*run).fetch, "%s", f.fetchSentence())
	add(StepFreeze, (*run).checkFreeze, "%s", f.freezeSentence())
	switch {
	case f.BackupFunc != "":
		add(StepBackup, (*run).backup, "take %s and wait until it is done; a failure stops here", f.BackupFunc)
	case f.BackupCommand != "":
		add(StepBackup, (*run).backup, "%s", f.backupSentence())
	}
	if n := len(f.Hooks.BeforeSwitch); n > 0 {
		add(StepBeforeSwitch, (*run).beforeSwitch, "run %d before_switch hook(s) in the new release%s; a failure stops here", n, f.onHosts())
	}
	if n := len(f.Hooks.BeforeSwitchOnce); n > 0 {
		add(StepBeforeSwitchOnce, (*run).beforeSwitchOnce, "run %d before_switch_once hook(s) in the new release%s; a failure stops here", n, f.onFirstHost(" only"))
	}
	if f.Lock != NoLock {
		add(StepFenceAgain, (*run).fenceAgain, "check again, just before the switch, that %s", f.lockSentence())
	}
	add(StepSwitch, (*run).switchOver, "%s", f.switchSentence())
	if n := len(f.Hooks.AfterSwitch); n > 0 {
		add(StepAfterSwitch, (*run).afterSwitch, "run %d after_switch hook(s)%s", n, f.onHosts())
	}
	if c := f.SmokeTest; c != nil {
		add(StepSmokeTest, (*run).smokeTest, "smoke test %s%s", smokeSummary(*c), f.smokeHosts())
	}
	if n := len(f.OneOffs); n > 0 {
		add(StepOneOff, (*run).oneOffs, "run %d one-off command(s) %s, in order: %s; a non-zero exit fails the deployment", n, f.OneOffWhere, "`"+strings.Join(f.OneOffs, "`, `")+"`")
	}
	add(StepRecord, (*run).record, "record %s as verified and deployed in the history of %s", id, f.Environment)
	add(StepRollback, (*run).afterSwitchFailure, "%s", f.failureSentence())
	steps[len(steps)-1].OnFailure = true
	if keep := f.keepReleases(); keep > 0 {
		add(StepPrune, (*run).prune, "keep the %d newest releases, the previous one and failed ones", keep)
	}
	return steps
}

// backupSentence says whose data the backup command saves and under which
// name: the release live when it runs, not the one being deployed.
func (f Facts) backupSentence() string {
	switch {
	case f.Live == nil:
		return fmt.Sprintf("back up the data of the version live when the apply starts: run the backup command%s and store its file as %s%s@<live version>+<timestamp>", f.onFirstHost(""), f.Name, BackupSuffix)
	case f.Live.Version == "":
		return fmt.Sprintf("back up the data present before any release (nothing is live): run the backup command%s and store its file as %s%s@%s+<timestamp>", f.onFirstHost(""), f.Name, BackupSuffix, NothingLiveVersion)
	}
	return fmt.Sprintf("back up the data of %s: run the backup command%s and store its file as %s%s@%s+<timestamp>", f.Live.Version, f.onFirstHost(""), f.Name, BackupSuffix, backupOf(f.Live.Version))
}

func (f Facts) lockSentence() string {
	if f.Lock == RunLockToken {
		return "the run's lock token (lock_token_wo) is still the lock of " + f.Environment
	}
	return "lock_token is still the token of the lock of " + f.Environment
}

func (f Facts) fetchSentence() string {
	id := f.Name + "@" + f.Version
	switch {
	case f.Reverify && f.Live != nil:
		return fmt.Sprintf("verify release %s on %s%s again: it is live but %s", f.Live.ReleaseID, f.TargetName, f.onHosts(), f.Live.Problem)
	case f.Build != nil:
		return fmt.Sprintf("read %s from the artifact store, verifying sha256 %s before anything goes to %s", id, f.SHA256, f.TargetName)
	case len(f.Hosts) > 0:
		return fmt.Sprintf("reuse a release of %s with sha256 %s when one is still on %s on every host (nothing downloaded), else stream it once to %s into a new release, each host verifying the sha256 before anything goes live", id, f.SHA256, f.TargetName, andList(f.Hosts))
	}
	return fmt.Sprintf("reuse a release of %s with sha256 %s when one is still on %s (nothing downloaded), else stream it into a new release, verifying the sha256 before anything goes live", id, f.SHA256, f.TargetName)
}

func (f Facts) switchSentence() string {
	from := "whatever it serves when the apply starts"
	if f.Live != nil {
		from = f.Live.describe()
	}
	switch {
	case f.Build == nil && len(f.Hosts) > 1:
		return fmt.Sprintf("switch %s%s from %s to %s atomically once every host holds the release and passed its before_switch hooks", f.TargetName, f.onHosts(), from, f.Version)
	case f.Build == nil:
		return fmt.Sprintf("switch %s%s from %s to %s atomically", f.TargetName, f.onHosts(), from, f.Version)
	}
	src := "upload the verified bytes as a source archive"
	if f.Build.FromStoreURL {
		src = "pass the artifact store's URL of " + f.Name + "@" + f.Version
	}
	if v := f.Build.Variables; len(v) > 0 {
		src = "set the variables " + andList(v) + " in one request (put back if the deployment fails or is rolled back), " + src
	}
	return fmt.Sprintf("%s, deploy git_ref %s to %s (live now: %s) and wait for success; a failed build keeps the previous containers running", src, f.Version, f.TargetName, from)
}

// failureSentence says what a failure after the switch leads to; the restored
// release is smoke-tested only when the deployment has a smoke test.
func (f Facts) failureSentence() string {
	smoke := ""
	if f.SmokeTest != nil {
		smoke = " and smoke-test it"
	}
	switch {
	case !f.RollbackOnFailure:
		return "on failure, leave " + f.Version + " live (rollback_on_failure = false)"
	case f.Live == nil:
		return "on failure, switch back to what was live before" + smoke + " (stop serving the failed release when nothing was)"
	case f.Previous == "":
		return "on failure, stop serving the failed release (nothing verified was live before)"
	case f.Build != nil:
		return "on failure after a successful build, deploy " + f.Previous + "'s artifact again" + smoke
	}
	return "on failure, switch back to " + f.Previous + smoke
}

// onHosts names the hosts the steps run on (" on web1, web2 and web3"), or
// nothing for a target with no hosts list.
func (f Facts) onHosts() string {
	if len(f.Hosts) == 0 {
		return ""
	}
	return " on " + andList(f.Hosts)
}

// onFirstHost names the first host (" on web1"+suffix), or nothing for a
// target with no hosts list.
func (f Facts) onFirstHost(suffix string) string {
	if len(f.Hosts) == 0 {
		return ""
	}
	return " on " + f.Hosts[0] + suffix
}

// smokeHosts says where a smoke test with {host} in its URL runs: on each
// host, {host} being its name without the SSH port.
func (f Facts) smokeHosts() string {
	if f.SmokeTest == nil || !strings.Contains(f.SmokeTest.URL, HostPlaceholder) {
		return ""
	}
	if len(f.Hosts) == 0 {
		return ", " + HostPlaceholder + " being localhost"
	}
	names := make([]string, len(f.Hosts))
	for i, h := range f.Hosts {
		names[i] = urlHostname(h)
	}
	return " on each host, " + HostPlaceholder + " being " + andList(names)
}

// andList joins names as a sentence does: "a", "a and b", "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// keepReleases is how many releases StepPrune keeps; not positive: no pruning.
func (f Facts) keepReleases() int {
	if f.KeepReleases == 0 {
		return DefaultKeepReleases
	}
	return f.KeepReleases
}

// describe names what is live for the switch step.
func (l Live) describe() string {
	switch {
	case l.ReleaseID == "" && l.Problem != "":
		return "a current link that is not one of its releases"
	case l.ReleaseID == "":
		return "nothing"
	case l.Status != "":
		return l.Version + " (" + l.ReleaseID + "), " + l.Status
	}
	return l.Version + " (" + l.ReleaseID + ")"
}

// smokeSummary phrases a check as "GET <url> expecting 200 (10 attempts)", with
// the defaults check.Run applies to zero fields and without a password the URL
// may hold.
func smokeSummary(c check.HTTPCheck) string {
	where := redactURL(c.URL)
	method, status, attempts := c.Method, c.ExpectStatus, c.Attempts
	if method == "" {
		method = "GET"
	}
	if status == 0 {
		status = check.DefaultExpectStatus
	}
	if attempts == 0 {
		attempts = check.DefaultAttempts
	}
	tries := fmt.Sprintf("%d attempts", attempts)
	if attempts == 1 {
		tries = "1 attempt"
	}
	return fmt.Sprintf("%s %s expecting %d (%s)", method, where, status, tries)
}
