# The PaaS pipeline on Scalingo: staging follows develop, production gets the same bytes
# once staging is validated, with a database backup, the MAINTENANCE_* variables, the
# release's own variables and one-off commands run after the deployment.
#
#   export SCALINGO_API_TOKEN=tk-us-...          # never in the configuration
#   terraform apply -var app_version=1.8.0 -var git_commit=$(git rev-parse HEAD)
#   # ... check https://histologe-staging.osc-fr1.scalingo.io, then tag 1.8.0 ...
#   terraform apply -var app_version=1.8.0 -var validated=true                  # 1.8.0 published (same bytes)
#   terraform apply -var app_version=1.8.0 -var validated=true -var production_version=1.8.0 -var maintenance=true
#   terraform apply -var app_version=1.8.0 -var validated=true -var production_version=1.8.0   # maintenance off
#
# Rolling production back: -var production_version=1.7.3 (the artifact of 1.7.3 is
# deployed again). The endpoints can be overridden with SCALINGO_API_URL,
# SCALINGO_AUTH_URL and SCALINGO_DB_API_URL (private regions, tests).
terraform {
  required_version = ">= 1.11"
  required_providers {
    release = {
      source = "releaseplan/release"
    }
  }
}

provider "release" {
  # Embedded defaults for artifacts and history (./.release); on CI runners use an
  # http artifact store and backend { postgres { ... } } instead.
  scalingo {
    region = var.region
  }
}

variable "app_version" {
  description = "MAJOR.MINOR.PATCH of the build (published as <version>-staging)."
  type        = string
}

variable "git_commit" {
  description = "Commit of the build (git rev-parse HEAD)."
  type        = string
  default     = null
}

variable "tarball" {
  description = "The build output; default dist/histologe-<app_version>.tar.gz."
  type        = string
  default     = null
}

variable "validated" {
  description = "Staging was checked: promote the same bytes to the release <version>."
  type        = bool
  default     = false
}

variable "production_version" {
  description = "The released version production runs (a tag, e.g. 1.8.0); null: production is not managed here yet."
  type        = string
  default     = null
}

variable "maintenance" {
  description = "Production maintenance mode (MAINTENANCE_ENABLE=1) during this apply and until an apply with false."
  type        = bool
  default     = false
}

variable "region" {
  description = "Scalingo region."
  type        = string
  default     = "osc-fr1"
}

variable "staging_app" {
  type    = string
  default = "histologe-staging"
}

variable "production_app" {
  type    = string
  default = "histologe"
}

variable "database_addon" {
  description = "Production database addon backed up before each deployment (addon id, or provider name such as postgresql)."
  type        = string
  default     = "postgresql"
}

variable "production_variables" {
  description = "Environment variables production gets with the release (put back if it fails or is rolled back); others are left alone."
  type        = map(string)
  default     = {}
}

variable "production_secrets" {
  description = "Secret environment variables production gets with the release (names shown in the plan, never values)."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "one_off" {
  description = "Commands run in attached one-off containers after each production deployment, in order (scalingo run ...)."
  type        = list(string)
  default     = ["php bin/console app:migrate-signalements"]
}

variable "smoke_url" {
  description = "Health URL of each app, with %s for the app name; \"\": no smoke test."
  type        = string
  default     = "https://%s.osc-fr1.scalingo.io/health"
}

module "build" {
  source = "../../modules/artifact"

  name        = "histologe"
  app_version = var.app_version
  source_file = coalesce(var.tarball, "dist/histologe-${var.app_version}.tar.gz")
  git_commit  = var.git_commit
  git_branch  = "develop"
}

module "staging" {
  source = "../../modules/environment"

  name               = "histologe"
  environment        = "staging"
  app_version        = var.app_version
  channel            = "staging"
  target             = { scalingo = { app = var.staging_app } }
  smoke_test         = var.smoke_url == "" ? null : { url = format(var.smoke_url, var.staging_app), attempts = 10, interval = "5s" }
  validated          = var.validated
  promote_to_channel = "" # 1.8.0-staging → 1.8.0, same bytes
  deploy_timeout     = "20m"

  depends_on = [module.build]
}

module "production" {
  source = "../../modules/environment"
  count  = var.production_version != null ? 1 : 0

  name        = "histologe"
  environment = "production"
  app_version = var.production_version
  target = { scalingo = {
    app       = var.production_app
    variables = var.production_variables
    one_off   = var.one_off
  } }
  sensitive_variables = var.production_secrets
  smoke_test          = var.smoke_url == "" ? null : { url = format(var.smoke_url, var.production_app), attempts = 10, interval = "5s" }
  backup              = { scalingo_addon = var.database_addon }
  maintenance = {
    enabled  = var.maintenance
    message  = "Mise à jour en cours, retour dans quelques minutes."
    scalingo = { app = var.production_app }
  }
  deploy_timeout = "20m"

  depends_on = [module.staging]
}

output "staging" {
  value = module.staging.deployed_version
}

output "production" {
  value = try(module.production[0].deployed_version, null)
}

output "production_backup" {
  value = try(module.production[0].backup_id, null)
}
