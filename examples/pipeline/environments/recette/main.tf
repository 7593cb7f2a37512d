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
  description = "Apply with -var validated=true once this environment was checked by hand: releases the lock and promotes."
  type        = bool
  default     = false
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

# Recette (acceptance): deploy the bytes staging validated (<version>-rc), hold the
# lock during the client's tests, then promote them to the release <version>.
module "release" {
  source = "../../../../modules/environment"

  name        = "demo-app"
  environment = "recette"
  app_version = var.app_version
  channel     = "rc"
  target = {
    directory = { path = "${local.sites}/recette", keep_releases = 3 }
  }
  smoke_test                = local.smoke_test
  hold_lock_until_validated = true
  lock                      = { ttl = "72h" }
  validated                 = var.validated
  promote_to_channel        = ""
}

output "promoted" {
  value = module.release.promoted_artifact
}

output "lock_holder" {
  value = module.release.lock_holder
}

output "deployed_version" {
  value = module.release.deployed_version
}

output "previous_version" {
  description = "Apply it (-var app_version=...) to roll back."
  value       = module.release.previous_version
}

output "served_from" {
  value = "${local.sites}/recette/current"
}
