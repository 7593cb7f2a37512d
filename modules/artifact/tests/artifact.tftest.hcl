# Run by scripts/test-modules.sh in a temporary copy of the module, with the
# fixtures it makes in ./work: dist/app-1.0.0.tar.gz and dist/app-1.1.0.tar.gz.
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
  app_version = "1.0.0"
  source_file = "work/dist/app-1.0.0.tar.gz"
  git_commit  = "3f2a9c1"
  built_by    = "terraform test"
}

run "publishes_on_the_staging_channel" {
  command = apply

  assert {
    condition     = output.id == "app@1.0.0-staging"
    error_message = "expected app@1.0.0-staging, got ${output.id}"
  }
  assert {
    condition     = output.sha256 == filesha256("work/dist/app-1.0.0.tar.gz")
    error_message = "the published sha256 is not the tarball's"
  }
  assert {
    condition     = output.metadata == tomap({ git_commit = "3f2a9c1", built_by = "terraform test" })
    error_message = "metadata should carry git_commit and built_by only: ${jsonencode(output.metadata)}"
  }
  assert {
    condition     = output.next == { patch = "1.0.1", minor = "1.1.0", major = "2.0.0" }
    error_message = "semver_bump helpers: ${jsonencode(output.next)}"
  }
  assert {
    condition     = output.channels.rc == "1.0.0-rc" && output.channels.release == "1.0.0"
    error_message = "channels: ${jsonencode(output.channels)}"
  }
  assert {
    condition     = fileexists(trimprefix(output.uri, "file://")) || startswith(output.uri, "file://")
    error_message = "the artifact should be stored in the directory store: ${output.uri}"
  }
}

run "same_version_again_changes_nothing" {
  command = plan

  assert {
    condition     = release_artifact.this.id == "app@1.0.0-staging"
    error_message = "re-planning the same build must keep the same artifact"
  }
}

run "next_version_on_the_release_channel" {
  command = apply

  variables {
    app_version = "1.1.0"
    channel     = ""
    source_file = "work/dist/app-1.1.0.tar.gz"
    git_commit  = "4b5c6d7"
  }

  assert {
    condition     = output.id == "app@1.1.0" && output.version == "1.1.0"
    error_message = "expected app@1.1.0, got ${output.id}"
  }
}

run "refuses_a_bad_version" {
  command = plan

  variables {
    app_version = "1.2"
  }

  expect_failures = [var.app_version]
}

run "refuses_a_file_that_is_not_a_tarball" {
  command = plan

  variables {
    source_file = "work/dist/app.zip"
  }

  expect_failures = [var.source_file]
}
