package deploy_test

import (
	"fmt"

	"github.com/releaseplan/terraform-provider-release/internal/check"
	"github.com/releaseplan/terraform-provider-release/internal/deploy"
)

// The steps a plan shows for a fenced deployment with a backup, a migration and a
// smoke test, replacing 1.7.3.
func ExampleSteps() {
	steps := deploy.Steps(deploy.Facts{
		Environment: "production", Name: "histologe", Version: "1.7.4", SHA256: "3f2a…",
		Lock:              deploy.LockToken,
		TargetName:        "directory /srv/histologe",
		Live:              &deploy.Live{ReleaseID: "1.7.3-20250301T220000Z", Version: "1.7.3"},
		Previous:          "1.7.3",
		Hooks:             deploy.Hooks{BeforeSwitch: []string{"php bin/console doctrine:migrations:migrate"}},
		BackupCommand:     `pg_dump -Fc app > "$RELEASE_BACKUP_FILE"`,
		SmokeTest:         &check.HTTPCheck{URL: "http://127.0.0.1:8080/health", Attempts: 10},
		RollbackOnFailure: true,
	})
	for _, s := range steps {
		fmt.Printf("%-13s %s\n", s.Name, s.Description)
	}
	// Output:
	// fence         check that lock_token is still the token of the lock of production before anything changes
	// blocked       refuse histologe@1.7.4 if it is blocked
	// fetch         reuse a release of histologe@1.7.4 with sha256 3f2a… when one is still on directory /srv/histologe (nothing downloaded), else stream it into a new release, verifying the sha256 before anything goes live
	// freeze        refuse if production is frozen (a release_freeze window in force when the apply gets here), before anything goes live
	// backup        back up the data of 1.7.3: run the backup command and store its file as histologe-backup@1.7.3+<timestamp>
	// before_switch run 1 before_switch hook(s) in the new release; a failure stops here
	// fence_again   check again, just before the switch, that lock_token is still the token of the lock of production
	// switch        switch directory /srv/histologe from 1.7.3 (1.7.3-20250301T220000Z) to 1.7.4 atomically
	// smoke_test    smoke test GET http://127.0.0.1:8080/health expecting 200 (10 attempts)
	// record        record histologe@1.7.4 as verified and deployed in the history of production
	// rollback      on failure, switch back to 1.7.3 and smoke-test it
	// prune         keep the 5 newest releases, the previous one and failed ones
}

// The steps of a deployment to three servers over SSH: hooks on every host, the
// migration and the backup on the first, a smoke test of each host.
func ExampleSteps_hosts() {
	steps := deploy.Steps(deploy.Facts{
		Environment: "production", Name: "histologe", Version: "1.7.4", SHA256: "3f2a…",
		TargetName: "directory /srv/histologe",
		Hosts:      []string{"web1.example.org", "web2.example.org", "web3.example.org:2222"},
		Live:       &deploy.Live{ReleaseID: "1.7.3-20250301T220000Z", Version: "1.7.3"},
		Previous:   "1.7.3",
		Hooks: deploy.Hooks{
			BeforeSwitch:     []string{"php bin/console cache:warmup"},
			BeforeSwitchOnce: []string{"php bin/console doctrine:migrations:migrate -n"},
			AfterSwitch:      []string{"sudo systemctl reload php8.2-fpm"},
		},
		BackupCommand:     `pg_dump -Fc app > "$RELEASE_BACKUP_FILE"`,
		SmokeTest:         &check.HTTPCheck{URL: "http://{host}:8080/health", Attempts: 10},
		RollbackOnFailure: true,
	})
	for _, s := range steps {
		fmt.Printf("%-18s %s\n", s.Name, s.Description)
	}
	// Output:
	// blocked            refuse histologe@1.7.4 if it is blocked
	// fetch              reuse a release of histologe@1.7.4 with sha256 3f2a… when one is still on directory /srv/histologe on every host (nothing downloaded), else stream it once to web1.example.org, web2.example.org and web3.example.org:2222 into a new release, each host verifying the sha256 before anything goes live
	// freeze             refuse if production is frozen (a release_freeze window in force when the apply gets here), before anything goes live
	// backup             back up the data of 1.7.3: run the backup command on web1.example.org and store its file as histologe-backup@1.7.3+<timestamp>
	// before_switch      run 1 before_switch hook(s) in the new release on web1.example.org, web2.example.org and web3.example.org:2222; a failure stops here
	// before_switch_once run 1 before_switch_once hook(s) in the new release on web1.example.org only; a failure stops here
	// switch             switch directory /srv/histologe on web1.example.org, web2.example.org and web3.example.org:2222 from 1.7.3 (1.7.3-20250301T220000Z) to 1.7.4 atomically once every host holds the release and passed its before_switch hooks
	// after_switch       run 1 after_switch hook(s) on web1.example.org, web2.example.org and web3.example.org:2222
	// smoke_test         smoke test GET http://{host}:8080/health expecting 200 (10 attempts) on each host, {host} being web1.example.org, web2.example.org and web3.example.org
	// record             record histologe@1.7.4 as verified and deployed in the history of production
	// rollback           on failure, switch back to 1.7.3 and smoke-test it
	// prune              keep the 5 newest releases, the previous one and failed ones
}
