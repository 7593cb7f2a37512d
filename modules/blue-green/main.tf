# Blue/green on directory targets: blue and green are two environments
# (<environment>-blue, -green), each a directory target under <path>; the router points
# <path>/live at one of them, or (with nginx) an nginx upstream at the colour's upstream.
#
# Which colour gets what comes from the release history, so the plan is stable:
# * a colour that already runs app_version is made live (nothing is deployed);
# * otherwise app_version is deployed to the idle colour (the one not live now),
#   smoke-tested on its preview upstream, then the router health-checks it and switches;
# * rollback = true makes live the colour that does not run app_version, deploying nothing;
# * with canary (nginx only), the colour that gets app_version takes the canary's share of
#   the requests, gated by its analysis; set canary to null to make it active.
locals {
  colours = ["blue", "green"]
  running = { for c in local.colours : c => data.release_environment.colour[c].version }

  # The live colour, from the router's newest switch event ("blue is live (...)" or
  # "blue → green (...)"); blue before the first switch.
  last_switch = try(data.release_history.switches.events[0].detail, "")
  live_now    = try(regex("(blue|green) (?:is live|\\()", local.last_switch)[0], "blue")
  idle_now    = local.live_now == "blue" ? "green" : "blue"

  runs_version = [for c in local.colours : c if local.running[c] == var.app_version]
  first        = alltrue([for c in local.colours : local.running[c] == ""])
  target = (length(local.runs_version) > 0 ? (contains(local.runs_version, local.live_now) ? local.live_now : local.runs_version[0])
  : local.first ? "blue" : local.idle_now)
  other = local.target == "blue" ? "green" : "blue"
  # With a canary, the colour that gets app_version takes only the canary's
  # share: the live colour stays active until canary is set to null.
  canary = var.canary != null && !var.rollback && local.target != local.live_now && !local.first
  active = var.rollback ? local.other : local.canary ? local.live_now : local.target

  # What each colour runs after this apply: the target gets app_version (unless
  # rolling back), the other keeps what it runs (nothing if it never ran anything).
  versions = {
    for c in local.colours : c => (c == local.target && !var.rollback ? var.app_version : local.running[c])
  }
}

data "release_environment" "colour" {
  for_each    = toset(local.colours)
  environment = "${var.environment}-${each.key}"
  name        = var.name
}

data "release_history" "switches" {
  environment = var.environment
  kinds       = ["switched"]
  limit       = 1
}

resource "release_deployment" "colour" {
  for_each = { for c, v in local.versions : c => v if v != "" }

  environment = "${var.environment}-${each.key}"
  artifact    = "${var.name}@${each.value}"
  sha256      = each.value == var.app_version ? var.sha256 : null

  directory {
    path          = "${var.path}/${each.key}"
    keep_releases = var.keep_releases

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

  smoke_test {
    url           = "http://${var.upstreams[each.key]}${var.health_path}"
    body_contains = var.health_body_contains
    attempts      = var.health_attempts
    interval      = "1s"
  }
}

resource "release_blue_green_router" "this" {
  active      = local.active
  environment = var.environment

  blue {
    upstream = var.upstreams.blue
  }
  green {
    upstream = var.upstreams.green
  }

  dynamic "nginx" {
    for_each = var.nginx == null ? [] : [var.nginx]
    content {
      config_file    = nginx.value.config_file
      upstream_name  = nginx.value.upstream_name
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

  dynamic "canary" {
    for_each = local.canary ? [var.canary] : []
    content {
      colour = local.target
      weight = canary.value.steps == null ? canary.value.weight : null
      sticky = canary.value.sticky
      steps  = canary.value.steps

      dynamic "analysis" {
        for_each = canary.value.analysis == null ? [] : [canary.value.analysis]
        content {
          access_log      = analysis.value.access_log
          window          = analysis.value.window
          min_requests    = analysis.value.min_requests
          max_error_rate  = analysis.value.max_error_rate
          max_p99_latency = analysis.value.max_p99_latency

          dynamic "prometheus" {
            for_each = analysis.value.prometheus == null ? [] : [analysis.value.prometheus]
            content {
              url   = prometheus.value.url
              query = prometheus.value.query
              max   = prometheus.value.max
            }
          }
        }
      }
    }
  }

  dynamic "directory" {
    for_each = var.nginx == null ? [var.path] : []
    content {
      path = directory.value

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

  health_check {
    path          = var.health_path
    body_contains = var.health_body_contains
    attempts      = var.health_attempts
  }

  lifecycle {
    precondition {
      condition     = local.versions[local.active] != ""
      error_message = "The ${local.active} colour runs nothing yet, so there is nothing to switch to: deploy a version first (rollback = false)."
    }
    precondition {
      condition     = var.canary == null || var.nginx != null
      error_message = "canary needs the nginx router: set nginx (the directory router cannot split requests)."
    }
  }

  depends_on = [release_deployment.colour]
}
