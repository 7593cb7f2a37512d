variable "name" {
  description = "Application name, used in lock reasons and maintenance messages; also the default artifact_name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*$", var.name))
    error_message = "name must be letters, digits, '.', '_' and '-', starting with a letter or digit, e.g. \"histologe\"."
  }
}

variable "environment" {
  description = "Environment this module releases to (staging, recette, preprod, production): the scope of locks, history and version blocks."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.environment))
    error_message = "environment must be lower-case letters, digits and '-', starting with a letter or digit (it also names the clearance record <version>+<environment>), e.g. \"preprod\"."
  }
}

variable "artifact_name" {
  description = "Name of the published artifact to deploy. Default: name."
  type        = string
  default     = null

  validation {
    condition     = var.artifact_name == null || can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*$", var.artifact_name))
    error_message = "artifact_name must be letters, digits, '.', '_' and '-', starting with a letter or digit, e.g. \"histologe\"."
  }
}

variable "app_version" {
  description = "Release version, MAJOR.MINOR.PATCH (e.g. \"1.7.4\"). The deployed artifact is this version on `channel`. Applying an earlier version is the rollback."
  type        = string

  validation {
    condition     = can(regex("^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$", var.app_version))
    error_message = "app_version must be a semantic version without build metadata, MAJOR.MINOR.PATCH[-pre], e.g. \"1.7.4\". Pass it with -var app_version=1.7.4."
  }
}

variable "channel" {
  description = "Channel of the version deployed here: \"staging\" deploys 1.7.4-staging, \"rc\" 1.7.4-rc, \"\" (default) the release 1.7.4 itself."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = can(regex("^[0-9A-Za-z.-]*$", var.channel))
    error_message = "channel must be a semver pre-release identifier such as \"staging\", \"rc\" or \"beta.1\", or \"\" for the release itself."
  }
}

variable "target" {
  description = <<-EOT
    Where the release goes: exactly one of
    `directory = { path, keep_releases, shared }` (a server folder with releases/ and the `current` symlink) or
    `scalingo = { app, source_url_from_store, variables, one_off, one_off_timeout, one_off_size }` (a Scalingo app;
    needs the provider's scalingo block; secret variables go in sensitive_variables).
  EOT
  type = object({
    directory = optional(object({
      path          = string
      keep_releases = optional(number, 5)
      shared        = optional(list(string), [])
    }))
    scalingo = optional(object({
      app                   = string
      source_url_from_store = optional(bool, false)
      variables             = optional(map(string))
      one_off               = optional(list(string))
      one_off_timeout       = optional(string)
      one_off_size          = optional(string)
    }))
  })

  validation {
    condition     = (var.target.directory == null) != (var.target.scalingo == null)
    error_message = "target needs exactly one of directory = { path = \"/srv/app\" } or scalingo = { app = \"my-app\" }."
  }
  validation {
    condition     = var.target.directory == null || startswith(try(var.target.directory.path, ""), "/")
    error_message = "target.directory.path must be absolute, e.g. \"/srv/histologe\" or abspath(\"${"$"}{path.root}/sites/staging\")."
  }
  validation {
    condition     = var.target.directory == null || try(var.target.directory.keep_releases, 5) >= 1
    error_message = "target.directory.keep_releases must be at least 1 (the live release is always kept)."
  }
}

variable "hooks" {
  description = "Shell commands run in the new release: `before_switch` (on every host; a failure stops before the switch), `before_switch_once` (migrations, on the first host only) and `after_switch` (on every host; a failure rolls back)."
  type = object({
    before_switch      = optional(list(string), [])
    before_switch_once = optional(list(string), [])
    after_switch       = optional(list(string), [])
  })
  default = null
}

variable "ssh" {
  description = <<-EOT
    The servers of the environment, reached over SSH (null: the machine Terraform runs on). A directory target is deployed to
    every host (prepared on all before any switches; rolled back on all when one fails) and a directory or nginx maintenance
    page is turned on and off on every host. Attributes as the resources' `ssh` block: hosts ("host" or "host:port") and,
    unless the provider's `ssh` block sets them, user, private_key (or agent = true) and known_hosts. `{host}` in
    smoke_test.url then checks every host.
  EOT
  type = object({
    hosts           = list(string)
    user            = optional(string)
    private_key     = optional(string)
    passphrase      = optional(string)
    agent           = optional(bool)
    known_hosts     = optional(string)
    max_parallel    = optional(number)
    connect_timeout = optional(string)
  })
  default = null

  validation {
    condition     = var.ssh == null || try(length(var.ssh.hosts) > 0, false)
    error_message = "ssh.hosts must list at least one host, e.g. [\"web1.example.org\", \"web2.example.org:2222\"]."
  }
  validation {
    condition     = var.ssh == null || var.target.scalingo == null
    error_message = "ssh reaches the servers of a directory target; a scalingo target has none."
  }
}

variable "smoke_test" {
  description = "HTTP check after the switch; when it fails the previous release is put back (rollback_on_failure). null: no smoke test."
  type = object({
    url           = string
    expect_status = optional(number, 200)
    body_contains = optional(string)
    attempts      = optional(number, 10)
    interval      = optional(string, "2s")
    timeout       = optional(string, "5s")
    host          = optional(string)
  })
  default = null

  validation {
    condition     = var.smoke_test == null || can(regex("^https?://", try(var.smoke_test.url, "")))
    error_message = "smoke_test.url must be an http:// or https:// URL, e.g. \"http://127.0.0.1:8080/health\"."
  }
  validation {
    condition     = var.smoke_test == null || try(var.smoke_test.attempts >= 1 && var.smoke_test.expect_status >= 100 && var.smoke_test.expect_status <= 599, false)
    error_message = "smoke_test.attempts must be at least 1 and smoke_test.expect_status an HTTP status (100-599)."
  }
  validation {
    condition     = var.smoke_test == null || try(can(regex("^[0-9]+(ms|s|m|h)$", var.smoke_test.interval)) && can(regex("^[0-9]+(ms|s|m|h)$", var.smoke_test.timeout)), false)
    error_message = "smoke_test.interval and smoke_test.timeout must be durations such as \"500ms\", \"2s\" or \"1m\"."
  }
}

variable "rollback_on_failure" {
  description = "Put the previous release back when an after_switch hook or the smoke test fails (the apply still fails and says so)."
  type        = bool
  default     = true
  nullable    = false
}

variable "hold_lock_until_validated" {
  description = "true: a managed release_environment_lock is acquired with the deploy and held across applies until `validated = true` (nobody else deploys here during manual validation). false: an ephemeral lock is held for the length of each plan and apply only."
  type        = bool
  default     = false
  nullable    = false
}

variable "lock" {
  description = "Lock settings: `holder` (default the provider's actor), `reason` (default \"release <name> <version>\"), `ttl` (a forgotten lock may be taken over after it), `wait_timeout` (queue behind another run instead of failing at once)."
  type = object({
    holder       = optional(string)
    reason       = optional(string)
    ttl          = optional(string)
    wait_timeout = optional(string, "0s")
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for d in [var.lock.ttl, var.lock.wait_timeout] : d == null || can(regex("^([0-9]+(ms|s|m|h))+$", d))])
    error_message = "lock.ttl and lock.wait_timeout must be durations such as \"90s\", \"10m\" or \"4h\"."
  }
}

variable "validated" {
  description = "Set to true (e.g. -var validated=true) once people have validated this environment by hand: the held lock is released and the version is promoted to promote_to_channel. Keep it false for a new version."
  type        = bool
  default     = false
  nullable    = false
}

variable "promote_to_channel" {
  description = "Once validated, promote the same bytes to this channel of the version: \"rc\" publishes 1.7.4-rc, \"\" the release 1.7.4 itself. null (default): no promotion from this environment."
  type        = string
  default     = null

  validation {
    condition     = var.promote_to_channel == null || can(regex("^[0-9A-Za-z.-]*$", var.promote_to_channel))
    error_message = "promote_to_channel must be a pre-release identifier such as \"rc\", or \"\" for the release itself, or null for no promotion."
  }
}

variable "require_deployed_in" {
  description = "Environments where this exact version must already run, its last deployment there a success, before it is deployed here (e.g. [\"preprod\"] for production). Checked once per version, through a clearance record <version>+<environment>."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "require_descendant_of_production" {
  description = "The deploy-by-sha guard: the version's git_commit metadata must descend from the commit production runs now, in the local git clone at `repository`. `environment` names production (default \"production\"). Skipped when production runs nothing yet, and for a version cleared here before (a rollback)."
  type = object({
    repository  = string
    environment = optional(string, "production")
  })
  default = null
}

variable "maintenance" {
  description = <<-EOT
    Maintenance mode around the deployment. `enabled = true` turns it on before the backup and the deployment of
    the same apply; it stays on until an apply with `enabled = false` (the next one, once the release is checked).
    Exactly one of `directory = { path }`, `nginx = { config_file, reload_command, test_command }` or
    `scalingo = { app, restart }`. null: no maintenance resource.
  EOT
  type = object({
    enabled     = bool
    banner      = optional(bool, false)
    message     = optional(string, "")
    reason      = optional(string)
    until       = optional(string)
    allowed_ips = optional(list(string))
    directory = optional(object({
      path = string
    }))
    nginx = optional(object({
      config_file    = string
      reload_command = optional(string)
      test_command   = optional(string)
    }))
    scalingo = optional(object({
      app     = string
      restart = optional(bool, true)
    }))
  })
  default = null

  validation {
    condition     = var.maintenance == null || length([for b in [try(var.maintenance.directory, null), try(var.maintenance.nginx, null), try(var.maintenance.scalingo, null)] : b if b != null]) == 1
    error_message = "maintenance needs exactly one of directory = { path = \"/srv/app/shared\" }, nginx = { config_file = \"/etc/nginx/snippets/app-maintenance.conf\" } or scalingo = { app = \"my-app\" }."
  }
}

variable "backup" {
  description = "Backup taken before the switch: `command` writes a file to $RELEASE_BACKUP_FILE (stored as <name>-backup@<live version>+<timestamp>, named after the release whose data it holds), or `scalingo_addon` takes a Scalingo database backup. null: no backup."
  type = object({
    command        = optional(string)
    scalingo_addon = optional(string)
  })
  default = null

  validation {
    condition     = var.backup == null || (try(var.backup.command, null) == null) != (try(var.backup.scalingo_addon, null) == null)
    error_message = "backup needs exactly one of command = \"pg_dump -Fc app > \\\"$RELEASE_BACKUP_FILE\\\"\" or scalingo_addon = \"postgresql\"."
  }
  validation {
    condition     = var.backup == null || (try(var.backup.scalingo_addon, null) == null) == (var.target.scalingo == null)
    error_message = "With a scalingo target, back up with scalingo_addon = \"postgresql\" (the database addon); with a directory target, with command = \"...\" writing $RELEASE_BACKUP_FILE."
  }
}

variable "allow_blocked" {
  description = "Deploy the version even if a release_version_block marks it as known-bad."
  type        = bool
  default     = false
  nullable    = false
}

variable "allow_downgrade" {
  description = "Deploy a version lower than the live one even when it was never live in this environment (going back to one that was is a rollback, always allowed)."
  type        = bool
  default     = false
  nullable    = false
}

variable "freeze_override" {
  description = "Release through a release_freeze window of this environment: the ticket and why, e.g. \"INC-4711 invoice hotfix\". Passed to the deployment and to the promotion that follows validation; the apply records it in the history with the actor. null: a frozen environment refuses the release."
  type        = string
  default     = null
}

variable "changelog" {
  description = "List what each release changes in the plan (release_deployment's changes), from a local git clone with the history of the builds: { repository = \"path\" }. null: no list."
  type = object({
    repository = optional(string, ".")
  })
  default = null
}

variable "deploy_timeout" {
  description = "How long a deployment may take (fetch, backup, hooks, smoke test), as a duration."
  type        = string
  default     = "30m"
  nullable    = false

  validation {
    condition     = can(regex("^([0-9]+(ms|s|m|h))+$", var.deploy_timeout))
    error_message = "deploy_timeout must be a duration such as \"20m\"."
  }
}

variable "sensitive_variables" {
  description = "With a scalingo target: environment variables set with the deployment whose values are secrets (the plan shows their names only). null: none."
  type        = map(string)
  default     = null
  sensitive   = true
}
