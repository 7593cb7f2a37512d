terraform {
  required_version = ">= 1.11"
  required_providers {
    release = {
      source = "releaseplan/release"
    }
  }
}

# Embedded defaults, shared by the four environments of this pipeline: artifacts and
# locks/history live in <pipeline>/.release, so what staging publishes, recette can
# promote, and what preprod runs, production can require. On several runners, use
# backend { postgres { dsn = var.release_dsn } } and an http artifact store instead.
provider "release" {
  artifact_store {
    directory {
      path = "${local.pipeline_dir}/.release/artifacts"
    }
  }
  backend {
    directory {
      path = "${local.pipeline_dir}/.release/state"
    }
  }
}

variable "app_version" {
  description = "Version to release here, e.g. 1.7.4. Rolling back is applying the previous one: -var app_version=1.7.3."
  type        = string
}

variable "pipeline_dir" {
  description = "Folder holding dist/ (builds) and .release/ (artifacts, state, sites). Default: examples/pipeline."
  type        = string
  default     = null
}

variable "url" {
  description = "Base URL where this environment is served (e.g. http://127.0.0.1:8081): the smoke test requests <url>/health. null: no smoke test."
  type        = string
  default     = null
}

variable "smoke_attempts" {
  description = "Smoke test requests before the deployment counts as failed and is rolled back."
  type        = number
  default     = 5
}

variable "smoke_interval" {
  description = "Pause between smoke test requests."
  type        = string
  default     = "1s"
}

variable "validated" {
  description = "Apply with -var validated=true once production was checked: releases the lock (with maintenance=false, ends the maintenance window in the same apply)."
  type        = bool
  default     = false
}

variable "maintenance" {
  description = "true: the maintenance page goes up before the backup and the deployment, and stays up until an apply with false."
  type        = bool
  default     = false
}

variable "repository" {
  description = "Local git clone with the history of the builds, for the descendant-of guard. Default: pipeline_dir."
  type        = string
  default     = null
}

locals {
  pipeline_dir = abspath(coalesce(var.pipeline_dir, "${path.root}/../.."))
  sites        = "${local.pipeline_dir}/.release/sites"
  smoke_test = var.url == null ? null : {
    url           = "${var.url}/health"
    body_contains = "ok"
    attempts      = var.smoke_attempts
    interval      = var.smoke_interval
    timeout       = "2s"
  }
}

locals {
  # The web server serves <site>/current; the release's maintenance/ folder is a
  # link to <site>/shared/maintenance, where the maintenance pages are written.
  maintenance_dir = "${local.sites}/production/shared/maintenance"
}

# On a real server this folder is provisioned with the web server.
resource "terraform_data" "maintenance_dir" {
  input = local.maintenance_dir
  provisioner "local-exec" {
    command = "mkdir -p \"${local.maintenance_dir}\""
  }
}

variable "freeze_window" {
  description = "A freeze of production, e.g. the year-end one: { start = \"2026-12-20T00:00:00+01:00\", end = \"2027-01-05T00:00:00+01:00\", reason = \"End-of-year freeze\" } (RFC 3339, end excluded). null: no freeze."
  type = object({
    start  = string
    end    = string
    reason = optional(string, "End-of-year freeze")
  })
  default = null
}

variable "freeze_override" {
  description = "Release into frozen production anyway: the ticket and why, e.g. \"INC-4711 invoice hotfix\" (recorded in the history with the actor). null: a freeze refuses the release."
  type        = string
  default     = null
}

# The year-end freeze: from start to end, every deployment or promotion into
# production is refused at plan time (and again at apply time, since a window may
# begin between the two), with the reason and when it ends. A hotfix that cannot
# wait goes through with -var freeze_override="INC-4711 invoice hotfix"; the plan
# shows the override and the history records it with who applied it.
#
# The window is stored in the backend, so every pipeline and runner sharing it sees
# the freeze. Declare it in an apply of its own (the deployment of the same plan
# cannot see a window that is not stored yet; its apply checks again and refuses).
# A weekly one would be cron = "0 14 * * FRI", duration = "62h",
# time_zone = "Europe/Paris" instead of start and end.
resource "release_freeze" "year_end" {
  count = var.freeze_window == null ? 0 : 1

  environments = ["production"]
  reason       = var.freeze_window.reason
  start        = var.freeze_window.start
  end          = var.freeze_window.end
}

# Production: only the release that runs healthy in preprod (require_deployed_in),
# built from a commit that descends from what production runs now (the deploy-by-sha
# guard); maintenance page on, backup of the live release, deploy, smoke test, and
# rollback by itself when the smoke test fails. The lock is held until validated.
module "release" {
  source = "../../../../modules/environment"

  name        = "demo-app"
  environment = "production"
  app_version = var.app_version
  target = {
    directory = { path = "${local.sites}/production", keep_releases = 5, shared = ["maintenance"] }
  }
  smoke_test                       = local.smoke_test
  require_deployed_in              = ["preprod"]
  require_descendant_of_production = { repository = coalesce(var.repository, local.pipeline_dir) }
  # The plan lists what the release changes since the live one (merged pull
  # requests and commits, from the builds' git_commit): the change ticket.
  changelog = { repository = coalesce(var.repository, local.pipeline_dir) }
  backup = {
    # Stands for "pg_dump + files": here, the files of the live release.
    command = "tar -czf \"$RELEASE_BACKUP_FILE\" ."
  }
  maintenance = {
    enabled   = var.maintenance
    message   = "Mise à jour en cours : retour dans quelques minutes."
    directory = { path = terraform_data.maintenance_dir.output } # created first
  }
  # The ticket that lets a release through a freeze window, when there is one.
  freeze_override = var.freeze_override
  # Held from the deploy until production was checked (-var validated=true).
  hold_lock_until_validated = true
  validated                 = var.validated
  lock                      = { ttl = "12h", wait_timeout = "5m" }
}

output "lock_holder" {
  value = module.release.lock_holder
}

output "backup_id" {
  description = "The backup taken before the last switch (an artifact named after the release whose data it holds: <name>-backup@<live version>+<time>)."
  value       = module.release.backup_id
}

output "maintenance" {
  value = module.release.maintenance_enabled
}

output "clearance" {
  value = module.release.clearance
}

output "changes" {
  description = "What the last deployment changed, one line per pull request or commit."
  value       = module.release.changes
}

output "deployed_version" {
  value = module.release.deployed_version
}

output "previous_version" {
  description = "Apply it (-var app_version=...) to roll back."
  value       = module.release.previous_version
}

output "served_from" {
  value = "${local.sites}/production/current"
}

variable "git_remote" {
  description = "Remote the release tag and the release branch are pushed to (e.g. origin); null keeps them in the local clone."
  type        = string
  default     = null
}

variable "release_branch" {
  description = "Branch that follows what production runs: moved forward (never forced) to the released commit once production is validated."
  type        = string
  default     = "main"
}

# The commit the release was built from: published with the staging artifact, promoted with the bytes.
data "release_artifact" "released" {
  name    = "demo-app"
  version = var.app_version
}

# Once production is validated (-var validated=true): tag the released commit and move
# the release branch forward to it. Destroying these (the next release's first apply)
# leaves the tag and the branch in git.
resource "release_git_tag" "release" {
  count      = var.validated ? 1 : 0
  repository = coalesce(var.repository, local.pipeline_dir)
  name       = var.app_version
  commit     = data.release_artifact.released.metadata["git_commit"]
  message    = "demo-app ${var.app_version}, validated in production"
  remote     = var.git_remote
}

resource "release_git_branch" "release" {
  count      = var.validated ? 1 : 0
  repository = coalesce(var.repository, local.pipeline_dir)
  name       = var.release_branch
  commit     = data.release_artifact.released.metadata["git_commit"]
  remote     = var.git_remote
}

output "git_release" {
  description = "What the validation did in git: the tag, then the branch and where it moved from."
  value = concat(
    release_git_tag.release[*].planned_action,
    [for b in release_git_branch.release : "${b.planned_action}: ${b.previous_sha == null ? "created" : "moved from ${substr(b.previous_sha, 0, 7)}"}, now at ${substr(b.commit_sha, 0, 7)}"],
  )
}

output "freeze" {
  description = "The id in the backend of production's freeze window, while one is declared (every refusal names it); null without."
  value       = one(release_freeze.year_end[*].id)
}
