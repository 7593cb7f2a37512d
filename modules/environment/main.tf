# One environment's release, in the order of the pipelines it replaces:
#
#   entry guards → lock → maintenance on → [backup → deploy → smoke test → rollback on failure]
#   → (next apply) maintenance off → promotion to the next channel once validated
#
# The backup, the switch, the smoke test and the automatic rollback all happen inside
# release_deployment, in that order, so they cannot be reordered by mistake.

locals {
  artifact_name  = coalesce(var.artifact_name, var.name)
  deploy_version = provider::release::semver_channel(var.app_version, var.channel)
  artifact_id    = "${local.artifact_name}@${local.deploy_version}"

  # Managed lock: held from the deploy until validated = true. Ephemeral lock:
  # held for one plan/apply. With hold_lock_until_validated and validated = true
  # there is no lock left to hold: the apply releases it and promotes.
  managed_lock   = var.hold_lock_until_validated && !var.validated
  ephemeral_lock = !var.hold_lock_until_validated
  # Fencing: the deployment is refused unless this is still the environment's lock.
  # Passed write-only in both modes (the run lock's token is ephemeral, and a token
  # acquired in the same apply is unknown at plan time).
  lock_token = local.managed_lock ? release_environment_lock.this[0].token : (
    local.ephemeral_lock ? ephemeral.release_environment_lock.run[0].token : null
  )
  lock_reason = coalesce(var.lock.reason, "release ${var.name} ${local.deploy_version}")

  guard_descendant = var.require_descendant_of_production != null
  entry_guard      = length(var.require_deployed_in) > 0 || local.guard_descendant
  # What production runs now; empty when nothing runs yet (a first release has
  # nothing to descend from, so the guard is left out).
  production_commit = local.guard_descendant ? data.release_environment.production[0].git_commit : ""

  promote    = var.promote_to_channel != null && var.validated
  to_version = var.promote_to_channel == null ? null : provider::release::semver_channel(var.app_version, var.promote_to_channel)
}

data "release_environment" "production" {
  count       = local.guard_descendant ? 1 : 0
  environment = var.require_descendant_of_production.environment
  name        = local.artifact_name
}

# The entry guards, checked once per version before anything on the target changes:
# the bytes must run healthy in require_deployed_in, and their git_commit must descend
# from what production runs. Passing them publishes a clearance record
# <version>+<environment> (the same bytes). A version cleared before is adopted
# without checking again: that is what lets a rollback to it through.
resource "release_promotion" "clearance" {
  count = local.entry_guard ? 1 : 0

  name                = local.artifact_name
  from_version        = local.deploy_version
  to_version          = "${local.deploy_version}+${var.environment}"
  sha256              = data.release_artifact.deploy[0].sha256
  require_deployed_in = var.require_deployed_in

  dynamic "require_descendant_of" {
    for_each = local.guard_descendant && local.production_commit != "" ? [1] : []
    content {
      repository = var.require_descendant_of_production.repository
      commit     = local.production_commit
    }
  }

  lifecycle {
    # Guards are checked when a version is cleared; production moving on afterwards
    # must not show as a change of the clearance.
    ignore_changes = [require_deployed_in, require_descendant_of]
  }
}

# The deployed bytes, looked up only to give the clearance their sha256 (the
# artifact is published by an earlier environment or by modules/artifact).
data "release_artifact" "deploy" {
  count   = local.entry_guard ? 1 : 0
  name    = local.artifact_name
  version = local.deploy_version
}

resource "release_environment_lock" "this" {
  count = local.managed_lock ? 1 : 0

  environment  = var.environment
  holder       = var.lock.holder
  reason       = "${local.lock_reason}: held until validated"
  ttl          = var.lock.ttl
  wait_timeout = var.lock.wait_timeout

  depends_on = [release_promotion.clearance]
}

ephemeral "release_environment_lock" "run" {
  count = local.ephemeral_lock ? 1 : 0

  environment = var.environment
  holder      = var.lock.holder
  reason      = local.lock_reason
  # Renewed while the run lasts, so a short ttl is safe; it bounds how long a run
  # that ends without closing the lock (see README) keeps others out.
  ttl          = coalesce(var.lock.ttl, "5m")
  wait_timeout = var.lock.wait_timeout
}

# Turned on (enabled = true) before the backup and the deployment of the same apply;
# turned off by a later apply with enabled = false. A resource cannot be on and then
# off within one apply: the window is two applies, so the release can be checked
# while visitors still see the maintenance page.
resource "release_maintenance_mode" "this" {
  count = var.maintenance != null ? 1 : 0

  enabled     = var.maintenance.enabled
  banner      = var.maintenance.banner
  message     = var.maintenance.message
  reason      = var.maintenance.reason
  until       = var.maintenance.until
  allowed_ips = var.maintenance.allowed_ips

  # Exactly one of these is set (checked by the maintenance variable).
  dynamic "directory" {
    for_each = var.maintenance.directory[*]
    content {
      path = directory.value.path

      dynamic "ssh" {
        for_each = var.ssh == null ? [] : [var.ssh]
        content {
          hosts           = ssh.value.hosts
          user            = ssh.value.user
          private_key     = ssh.value.private_key
          passphrase      = ssh.value.passphrase
          agent           = ssh.value.agent
          known_hosts     = ssh.value.known_hosts
          max_parallel    = ssh.value.max_parallel
          connect_timeout = ssh.value.connect_timeout
        }
      }
    }
  }
  dynamic "nginx" {
    for_each = var.maintenance.nginx[*]
    content {
      config_file    = nginx.value.config_file
      reload_command = nginx.value.reload_command
      test_command   = nginx.value.test_command

      dynamic "ssh" {
        for_each = var.ssh == null ? [] : [var.ssh]
        content {
          hosts           = ssh.value.hosts
          user            = ssh.value.user
          private_key     = ssh.value.private_key
          passphrase      = ssh.value.passphrase
          agent           = ssh.value.agent
          known_hosts     = ssh.value.known_hosts
          max_parallel    = ssh.value.max_parallel
          connect_timeout = ssh.value.connect_timeout
        }
      }
    }
  }
  dynamic "scalingo" {
    for_each = var.maintenance.scalingo[*]
    content {
      app     = scalingo.value.app
      restart = scalingo.value.restart
    }
  }

  depends_on = [release_promotion.clearance, release_environment_lock.this, ephemeral.release_environment_lock.run]
}

resource "release_deployment" "this" {
  environment         = var.environment
  artifact            = local.artifact_id
  lock_token_wo       = local.lock_token
  rollback_on_failure = var.rollback_on_failure
  allow_blocked       = var.allow_blocked
  allow_downgrade     = var.allow_downgrade
  freeze_override     = var.freeze_override

  # Exactly one target (checked by the target variable).
  dynamic "directory" {
    for_each = var.target.directory[*]
    content {
      path          = directory.value.path
      keep_releases = directory.value.keep_releases
      shared        = length(directory.value.shared) > 0 ? directory.value.shared : null

      dynamic "ssh" {
        for_each = var.ssh == null ? [] : [var.ssh]
        content {
          hosts           = ssh.value.hosts
          user            = ssh.value.user
          private_key     = ssh.value.private_key
          passphrase      = ssh.value.passphrase
          agent           = ssh.value.agent
          known_hosts     = ssh.value.known_hosts
          max_parallel    = ssh.value.max_parallel
          connect_timeout = ssh.value.connect_timeout
        }
      }
    }
  }
  dynamic "scalingo" {
    for_each = var.target.scalingo[*]
    content {
      app                   = scalingo.value.app
      source_url_from_store = scalingo.value.source_url_from_store
      variables             = scalingo.value.variables
      sensitive_variables   = var.sensitive_variables
      one_off               = scalingo.value.one_off
      one_off_timeout       = scalingo.value.one_off_timeout
      one_off_size          = scalingo.value.one_off_size
    }
  }

  dynamic "hooks" {
    for_each = var.hooks[*]
    content {
      before_switch      = length(hooks.value.before_switch) > 0 ? hooks.value.before_switch : null
      before_switch_once = length(hooks.value.before_switch_once) > 0 ? hooks.value.before_switch_once : null
      after_switch       = length(hooks.value.after_switch) > 0 ? hooks.value.after_switch : null
    }
  }
  # command for a directory target, scalingo_addon for a scalingo one: the backup
  # variable holds exactly one of them, the one the target needs.
  dynamic "backup" {
    for_each = var.backup[*]
    content {
      command        = backup.value.command
      scalingo_addon = backup.value.scalingo_addon
    }
  }
  dynamic "smoke_test" {
    for_each = var.smoke_test[*]
    content {
      url           = smoke_test.value.url
      expect_status = smoke_test.value.expect_status
      body_contains = smoke_test.value.body_contains
      attempts      = smoke_test.value.attempts
      interval      = smoke_test.value.interval
      timeout       = smoke_test.value.timeout
      host          = smoke_test.value.host
    }
  }

  dynamic "changelog" {
    for_each = var.changelog[*]
    content {
      repository = changelog.value.repository
    }
  }

  timeouts {
    create = var.deploy_timeout
    update = var.deploy_timeout
  }

  depends_on = [
    release_promotion.clearance,
    ephemeral.release_environment_lock.run,
    release_maintenance_mode.this,
  ]
}

# The same bytes, published under the next channel once people validated this
# environment: require_deployed_in = [this environment] checks that the version is
# still live and healthy here at that moment.
resource "release_promotion" "next" {
  count = local.promote ? 1 : 0

  name                = local.artifact_name
  from_version        = local.deploy_version
  to_version          = local.to_version
  sha256              = release_deployment.this.sha256
  require_deployed_in = [var.environment]
  freeze_override     = var.freeze_override

  lifecycle {
    precondition {
      condition     = local.to_version != local.deploy_version
      error_message = "promote_to_channel \"${coalesce(var.promote_to_channel, "-")}\" gives ${coalesce(local.to_version, "-")}, the version deployed here: promote to another channel (\"rc\", or \"\" for the release itself)."
    }
  }
}
