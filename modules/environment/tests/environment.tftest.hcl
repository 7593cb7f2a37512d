# Run by scripts/test-modules.sh in a temporary copy of the module, with fixtures in
# ./work: dist/app-<v>.tar.gz, a git clone in repo/ with the commit of each version
# in commits/<v> (1.1.0 descends from 1.0.0), and an empty maintenance/ folder.
# Each environment keeps its own state (state_key), as one root module per
# environment would.
provider "release" {
  actor = "ci@test"
  artifact_store {
    directory {
      path = abspath("work/artifacts")
    }
  }
  backend {
    directory {
      path = abspath("work/state")
    }
  }
}

variables {
  name        = "app"
  app_version = "1.0.0"
}

run "build_1_0_0" {
  command   = apply
  state_key = "build-1.0.0"
  module {
    source = "../artifact"
  }
  variables {
    source_file = "work/dist/app-1.0.0.tar.gz"
    git_commit  = file("work/commits/1.0.0")
  }
}

run "staging_deploys_and_holds_the_lock" {
  command   = apply
  state_key = "staging"
  variables {
    environment               = "staging"
    channel                   = "staging"
    target                    = { directory = { path = abspath("work/sites/staging") } }
    hold_lock_until_validated = true
    promote_to_channel        = "rc"
  }

  assert {
    condition     = output.deployed_version == "1.0.0-staging" && output.artifact == "app@1.0.0-staging"
    error_message = "staging should run 1.0.0-staging, runs ${output.deployed_version}"
  }
  assert {
    condition     = output.lock_token >= 1 && output.lock_holder == "ci@test"
    error_message = "the staging lock should be held until validation"
  }
  assert {
    condition     = output.promoted_version == null
    error_message = "nothing is promoted before validation"
  }
  assert {
    condition     = output.release_id != null && file("work/sites/staging/current/index.html") == "<h1>app 1.0.0</h1>\n"
    error_message = "work/sites/staging/current should serve 1.0.0"
  }
  assert {
    condition     = output.sha256 == filesha256("work/dist/app-1.0.0.tar.gz")
    error_message = "the deployed bytes are not the build's"
  }
}

run "staging_validated_releases_the_lock_and_promotes_rc" {
  command   = apply
  state_key = "staging"
  variables {
    environment               = "staging"
    channel                   = "staging"
    target                    = { directory = { path = abspath("work/sites/staging") } }
    hold_lock_until_validated = true
    promote_to_channel        = "rc"
    validated                 = true
  }

  assert {
    condition     = output.promoted_version == "1.0.0-rc" && output.promoted_artifact == "app@1.0.0-rc"
    error_message = "validation should promote 1.0.0-rc"
  }
  assert {
    condition     = output.lock_token == null
    error_message = "validation should release the lock"
  }
  assert {
    condition     = output.deployed_version == "1.0.0-staging"
    error_message = "validation must not redeploy"
  }
}

run "recette_deploys_rc_and_promotes_the_release" {
  command   = apply
  state_key = "recette"
  variables {
    environment        = "recette"
    channel            = "rc"
    target             = { directory = { path = abspath("work/sites/recette") } }
    promote_to_channel = ""
    validated          = true
  }

  assert {
    condition     = output.deployed_version == "1.0.0-rc" && output.promoted_version == "1.0.0"
    error_message = "recette should run 1.0.0-rc and promote 1.0.0"
  }
  assert {
    condition     = output.lock_token == null
    error_message = "an ephemeral lock leaves no token in the state"
  }
}

run "preprod_deploys_the_release" {
  command   = apply
  state_key = "preprod"
  variables {
    environment = "preprod"
    target      = { directory = { path = abspath("work/sites/preprod"), keep_releases = 2 } }
  }

  assert {
    condition     = output.deployed_version == "1.0.0"
    error_message = "preprod should run 1.0.0"
  }
}

run "production_first_release_with_maintenance_and_backup" {
  command   = apply
  state_key = "production"
  variables {
    environment                      = "production"
    target                           = { directory = { path = abspath("work/sites/production") } }
    require_deployed_in              = ["preprod"]
    require_descendant_of_production = { repository = abspath("work/repo") }
    backup                           = { command = "tar -czf \"$RELEASE_BACKUP_FILE\" ." }
    maintenance = {
      enabled   = true
      message   = "Mise à jour en cours"
      directory = { path = abspath("work/maintenance") }
    }
  }

  assert {
    condition     = output.deployed_version == "1.0.0" && output.clearance == "app@1.0.0+production"
    error_message = "production should run 1.0.0 once cleared"
  }
  assert {
    condition     = output.maintenance_enabled && fileexists("work/maintenance/maintenance.html")
    error_message = "maintenance should be on, with its page written"
  }
  assert {
    condition     = startswith(output.backup_id, "app-backup@0.0.0+")
    error_message = "the backup of what was there before any release should be stored before the switch: ${coalesce(output.backup_id, "none")}"
  }
}

run "production_maintenance_off" {
  command   = apply
  state_key = "production"
  variables {
    environment                      = "production"
    target                           = { directory = { path = abspath("work/sites/production") } }
    require_deployed_in              = ["preprod"]
    require_descendant_of_production = { repository = abspath("work/repo") }
    backup                           = { command = "tar -czf \"$RELEASE_BACKUP_FILE\" ." }
    maintenance = {
      enabled   = false
      directory = { path = abspath("work/maintenance") }
    }
  }

  assert {
    condition     = !output.maintenance_enabled && !fileexists("work/maintenance/maintenance.html")
    error_message = "maintenance should be off and its page gone"
  }
  assert {
    condition     = output.deployed_version == "1.0.0"
    error_message = "turning maintenance off must not redeploy"
  }
}

run "build_1_1_0" {
  command   = apply
  state_key = "build-1.1.0"
  module {
    source = "../artifact"
  }
  variables {
    app_version = "1.1.0"
    channel     = ""
    source_file = "work/dist/app-1.1.0.tar.gz"
    git_commit  = file("work/commits/1.1.0")
  }
}

run "preprod_deploys_1_1_0" {
  command   = apply
  state_key = "preprod"
  variables {
    app_version = "1.1.0"
    environment = "preprod"
    target      = { directory = { path = abspath("work/sites/preprod"), keep_releases = 2 } }
  }
}

run "production_1_1_0_descends_from_production" {
  command   = apply
  state_key = "production"
  variables {
    app_version                      = "1.1.0"
    environment                      = "production"
    target                           = { directory = { path = abspath("work/sites/production") } }
    require_deployed_in              = ["preprod"]
    require_descendant_of_production = { repository = abspath("work/repo") }
    backup                           = { command = "tar -czf \"$RELEASE_BACKUP_FILE\" ." }
  }

  assert {
    condition     = output.deployed_version == "1.1.0" && output.previous_version == "1.0.0"
    error_message = "production should run 1.1.0 after 1.0.0"
  }
  assert {
    condition     = startswith(output.backup_id, "app-backup@1.0.0+")
    error_message = "the backup of 1.0.0's release should be stored before the switch: ${coalesce(output.backup_id, "none")}"
  }
  assert {
    condition     = output.clearance == "app@1.1.0+production"
    error_message = "1.1.0 should be cleared for production"
  }
}

run "production_rollback_by_variable" {
  command   = apply
  state_key = "production"
  variables {
    app_version                      = "1.0.0"
    environment                      = "production"
    target                           = { directory = { path = abspath("work/sites/production") } }
    require_deployed_in              = ["preprod"]
    require_descendant_of_production = { repository = abspath("work/repo") }
  }

  assert {
    condition     = output.deployed_version == "1.0.0" && output.previous_version == "1.1.0"
    error_message = "the rollback should put 1.0.0 back (cleared before, so the guards let it through)"
  }
  assert {
    condition     = output.release_id != null && file("work/sites/production/current/index.html") == "<h1>app 1.0.0</h1>\n"
    error_message = "work/sites/production/current should serve 1.0.0 again"
  }
}

run "ssh_reaches_the_target_and_the_maintenance_page_on_every_host" {
  command = plan

  # Deployments and maintenance pages log in to their hosts at plan time; there
  # are none here (the provider's acceptance tests use real sshd hosts), so
  # those resources are overridden and only the module's wiring is checked.
  override_resource {
    target = release_deployment.this
  }
  override_resource {
    target = release_maintenance_mode.this
  }

  variables {
    hold_lock_until_validated = true
    environment               = "staging"
    target                    = { directory = { path = "/srv/app" } }
    hooks                     = { before_switch_once = ["php bin/console doctrine:migrations:migrate -n"] }
    maintenance               = { enabled = true, directory = { path = "/srv/app/shared" } }
    ssh = {
      hosts       = ["web1.example.org", "web2.example.org:2222"]
      user        = "deploy"
      known_hosts = "web1.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHw7c0lYBz2p2s9FQ8A0lKcKzqg5Z0M0vM8gC0rQ4c5x"
    }
  }

  assert {
    condition     = join(",", release_deployment.this.directory.ssh.hosts) == "web1.example.org,web2.example.org:2222" && release_deployment.this.directory.ssh.user == "deploy"
    error_message = "the deployment's directory block should get the ssh hosts and user"
  }
  assert {
    condition     = join(",", release_maintenance_mode.this[0].directory.ssh.hosts) == "web1.example.org,web2.example.org:2222"
    error_message = "the maintenance page should be turned on on every host"
  }
  assert {
    condition     = release_deployment.this.hooks.before_switch_once[0] == "php bin/console doctrine:migrations:migrate -n"
    error_message = "before_switch_once should reach the deployment"
  }
  assert {
    condition     = release_deployment.this.freeze_override == null
    error_message = "without freeze_override the deployment should not override freezes"
  }
}

run "freeze_override_reaches_the_deployment_and_the_promotion" {
  command = plan

  # The deployment and the promotion would read the live release and the history;
  # overridden, only the module's wiring of freeze_override is checked (the
  # provider's acceptance tests and TestExamplePipeline refuse and override real
  # freeze windows).
  override_resource {
    target = release_deployment.this
  }
  override_resource {
    target = release_promotion.next
  }

  variables {
    hold_lock_until_validated = true
    validated                 = true
    environment               = "staging"
    channel                   = "staging"
    promote_to_channel        = "rc"
    target                    = { directory = { path = "/srv/app" } }
    freeze_override           = "INC-4711 invoice hotfix"
  }

  assert {
    condition     = release_deployment.this.freeze_override == "INC-4711 invoice hotfix"
    error_message = "freeze_override should reach the deployment"
  }
  assert {
    condition     = release_promotion.next[0].freeze_override == "INC-4711 invoice hotfix"
    error_message = "freeze_override should reach the promotion that follows validation"
  }
}

run "refuses_ssh_for_a_scalingo_target" {
  command = plan
  variables {
    hold_lock_until_validated = true # no run lock is opened by a plan that must fail
    environment               = "staging"
    target                    = { scalingo = { app = "app" } }
    ssh                       = { hosts = ["web1.example.org"] }
  }
  expect_failures = [var.ssh]
}

run "refuses_two_targets" {
  command = plan
  variables {
    hold_lock_until_validated = true # no run lock is opened by a plan that must fail
    environment               = "staging"
    target                    = { directory = { path = "/srv/app" }, scalingo = { app = "app" } }
  }
  expect_failures = [var.target]
}

run "refuses_a_relative_directory" {
  command = plan
  variables {
    hold_lock_until_validated = true # no run lock is opened by a plan that must fail
    environment               = "staging"
    target                    = { directory = { path = "sites/staging" } }
  }
  expect_failures = [var.target]
}

run "refuses_a_scalingo_backup_on_a_directory_target" {
  command = plan
  variables {
    hold_lock_until_validated = true # no run lock is opened by a plan that must fail
    environment               = "staging"
    target                    = { directory = { path = "/srv/app" } }
    backup                    = { scalingo_addon = "postgresql" }
  }
  expect_failures = [var.backup]
}

run "refuses_maintenance_without_a_backend" {
  command = plan
  variables {
    hold_lock_until_validated = true # no run lock is opened by a plan that must fail
    environment               = "staging"
    target                    = { directory = { path = "/srv/app" } }
    maintenance               = { enabled = true }
  }
  expect_failures = [var.maintenance]
}

run "refuses_a_version_with_build_metadata" {
  command = plan
  variables {
    hold_lock_until_validated = true # no run lock is opened by a plan that must fail
    app_version               = "1.0.0+build.7"
    environment               = "staging"
    target                    = { directory = { path = "/srv/app" } }
  }
  expect_failures = [var.app_version]
}

run "refuses_a_bad_environment_name" {
  command = plan
  variables {
    hold_lock_until_validated = true # no run lock is opened by a plan that must fail
    environment               = "Pre Prod"
    target                    = { directory = { path = "/srv/app" } }
  }
  expect_failures = [var.environment]
}
