variable "name" {
  description = "Artifact name (\"histologe\")."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*$", var.name))
    error_message = "name must be letters, digits, '.', '_' and '-', starting with a letter or digit."
  }
}

variable "environment" {
  description = "Environment name; the colours are deployed as <environment>-blue and <environment>-green, and switches are recorded in <environment>'s history."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,56}$", var.environment))
    error_message = "environment must be lower-case letters, digits and '-', e.g. \"production\"."
  }
}

variable "app_version" {
  description = "The version that should be live. A version no colour runs is deployed to the idle colour, health-checked there, then switched to."
  type        = string

  validation {
    condition     = can(regex("^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$", var.app_version))
    error_message = "app_version must be a semantic version MAJOR.MINOR.PATCH[-pre], e.g. \"1.7.4\"."
  }
}

variable "sha256" {
  description = "Expected sha256 of app_version's bytes (e.g. module.build.sha256): verified before the idle colour changes. Passing it from the publishing resource also orders the publication before the deployment."
  type        = string
  default     = null
}

variable "rollback" {
  description = "true: switch all traffic back to the other colour (the one that does not run app_version), without deploying anything. Then set app_version to what it runs and rollback = false."
  type        = bool
  default     = false
  nullable    = false
}

variable "path" {
  description = "Absolute folder holding blue/ and green/ (directory targets, each with its `current`) and the router's `live` symlink; serve <path>/live/current."
  type        = string

  validation {
    condition     = startswith(var.path, "/")
    error_message = "path must be absolute, e.g. \"/srv/histologe\"."
  }
}

variable "upstreams" {
  description = "Where each colour is served on its own (its preview route), e.g. { blue = \"127.0.0.1:8081\", green = \"127.0.0.1:8082\" }: the new colour is smoke-tested and health-checked there before the switch."
  type = object({
    blue  = string
    green = string
  })
}

variable "health_path" {
  description = "Path of the health check requested on a colour's upstream."
  type        = string
  default     = "/health"
}

variable "health_body_contains" {
  description = "Text a healthy answer contains."
  type        = string
  default     = "ok"
}

variable "health_attempts" {
  description = "Requests before the colour counts as unhealthy."
  type        = number
  default     = 5

  validation {
    condition     = var.health_attempts >= 1
    error_message = "health_attempts must be at least 1."
  }
}

variable "keep_releases" {
  description = "Releases kept in each colour."
  type        = number
  default     = 3
}

variable "ssh" {
  description = <<-EOT
    The web servers that hold <path>, reached over SSH (null: the machine Terraform runs on). The router's `live` symlink is
    switched on every host (the hosts already switched are put back when one fails). Attributes as the resources' `ssh` block:
    hosts ("host" or "host:port") and, unless the provider's `ssh` block sets them, user, private_key (or agent = true) and known_hosts.
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
}

variable "nginx" {
  description = <<-EOT
    Route with nginx instead of the `live` symlink (null): the include file the router owns (`config_file`, included in nginx's http {}),
    the `upstream_name` server blocks proxy to, and optionally `reload_command` and `test_command`. Needed by `canary`.
  EOT
  type = object({
    config_file    = string
    upstream_name  = string
    reload_command = optional(string)
    test_command   = optional(string)
  })
  default = null
}

variable "canary" {
  description = <<-EOT
    Send the new version a share of the requests before it goes live (nginx only). While set, the colour deployed with app_version
    takes `weight` percent of the requests (or the `steps` of a whole rollout, each as { weight, pause }), `sticky` = none, cookie or
    client_ip, and each weight change must pass `analysis` of nginx's access log ({ access_log, window, min_requests, max_error_rate,
    max_p99_latency }, and/or prometheus = { url, query, max }); a failed analysis sends everything back to the live colour and fails the apply. Set canary to null to make
    the new colour active.
  EOT
  type = object({
    weight = optional(number)
    sticky = optional(string)
    steps = optional(list(object({
      weight = number
      pause  = optional(string)
    })))
    analysis = optional(object({
      access_log      = optional(string)
      window          = string
      min_requests    = optional(number)
      max_error_rate  = optional(number)
      max_p99_latency = optional(string)
      prometheus = optional(object({
        url   = string
        query = string
        max   = number
      }))
    }))
  })
  default = null

  validation {
    condition     = var.canary == null || try(var.canary.weight != null || length(var.canary.steps) > 0, false)
    error_message = "canary needs weight (percent of the requests to the new colour) or steps (a whole rollout)."
  }
}
