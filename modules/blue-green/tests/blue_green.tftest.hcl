# Run by scripts/test-modules.sh in a temporary copy of the module, with fixtures in
# ./work: dist/app-<v>.tar.gz, and loopback servers for work/sites/blue and
# work/sites/green whose host:port are in work/blue.addr and work/green.addr.
provider "release" {
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
  environment = "production"
  path        = abspath("work/sites")
  upstreams = {
    blue  = file("work/blue.addr")
    green = file("work/green.addr")
  }
  health_attempts = 2
}

run "build_1_0_0" {
  command   = apply
  state_key = "build-1.0.0"
  module {
    source = "../artifact"
  }
  variables {
    app_version = "1.0.0"
    channel     = ""
    source_file = "work/dist/app-1.0.0.tar.gz"
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
  }
}

run "first_version_goes_to_blue" {
  command = apply
  variables {
    app_version = "1.0.0"
  }

  assert {
    condition     = output.active == "blue" && output.versions == { blue = "1.0.0", green = "" }
    error_message = "1.0.0 should be live on blue: ${jsonencode(output.versions)}, active ${output.active}"
  }
}

run "next_version_goes_to_the_idle_colour" {
  command = apply
  variables {
    app_version = "1.1.0"
  }

  assert {
    condition     = output.active == "green" && output.versions == { blue = "1.0.0", green = "1.1.0" }
    error_message = "1.1.0 should be deployed to green and switched to: ${jsonencode(output.versions)}, active ${output.active}"
  }
  assert {
    condition     = output.live_version == "1.1.0" && file("work/sites/live/current/index.html") == "<h1>app 1.1.0</h1>\n"
    error_message = "work/sites/live should serve 1.1.0"
  }
}

run "same_version_again_changes_nothing" {
  command = plan
  variables {
    app_version = "1.1.0"
  }

  assert {
    condition     = release_blue_green_router.this.active == "green" && output.versions == { blue = "1.0.0", green = "1.1.0" }
    error_message = "planning the live version again must keep green live and deploy nothing"
  }
}

run "rollback_switches_back_without_deploying" {
  command = apply
  variables {
    app_version = "1.1.0"
    rollback    = true
  }

  assert {
    condition     = output.active == "blue" && output.live_version == "1.0.0" && output.versions == { blue = "1.0.0", green = "1.1.0" }
    error_message = "rollback should make blue (1.0.0) live again and keep green as it is"
  }
  assert {
    condition     = file("work/sites/live/current/index.html") == "<h1>app 1.0.0</h1>\n" && output.idle == "green"
    error_message = "work/sites/live should serve 1.0.0 after the rollback"
  }
}

run "after_a_rollback_the_next_version_replaces_the_bad_colour" {
  command = apply
  variables {
    app_version = "1.0.0"
  }

  assert {
    condition     = output.active == "blue" && output.versions.green == "1.1.0"
    error_message = "app_version = what blue runs, rollback = false: nothing moves"
  }
}

run "ssh_switches_the_router_on_every_host" {
  command = plan

  # A deployment logs in to its hosts at plan time to read what they serve;
  # there are none here (the provider's acceptance tests deploy over real sshd),
  # so the colours' deployments are overridden and only the wiring is checked.
  override_resource {
    target = release_deployment.colour
  }

  variables {
    app_version = "1.0.0"
    ssh = {
      hosts       = ["web1.example.org", "web2.example.org:2222"]
      user        = "deploy"
      private_key = "not a real key: a plan does not log in"
      known_hosts = "web1.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHw7c0lYBz2p2s9FQ8A0lKcKzqg5Z0M0vM8gC0rQ4c5x"
    }
  }

  assert {
    condition     = join(",", release_blue_green_router.this.directory.ssh.hosts) == "web1.example.org,web2.example.org:2222" && release_blue_green_router.this.directory.ssh.user == "deploy"
    error_message = "the router's directory block should get the ssh hosts and user"
  }
  assert {
    condition     = join(",", release_deployment.colour["blue"].directory.ssh.hosts) == "web1.example.org,web2.example.org:2222"
    error_message = "the colours' deployments should get the ssh hosts"
  }
}

run "refuses_ssh_without_hosts" {
  command = plan
  variables {
    app_version = "1.0.0"
    ssh         = { hosts = [] }
  }
  expect_failures = [var.ssh]
}

run "refuses_a_relative_path" {
  command = plan
  variables {
    app_version = "1.0.0"
    path        = "sites"
  }
  expect_failures = [var.path]
}
