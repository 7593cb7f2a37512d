# Publishes one build once, with its git metadata, and computes the next versions.
locals {
  published_version = provider::release::semver_channel(var.app_version, var.channel)
  metadata = merge(var.metadata, { for k, v in {
    git_commit = var.git_commit
    git_branch = var.git_branch
    built_by   = var.built_by
  } : k => v if v != null })
  # The plan shows which bytes are published when the file is already there.
  sha256 = var.sha256 != null ? lower(var.sha256) : (fileexists(var.source_file) ? filesha256(var.source_file) : null)
}

resource "release_artifact" "this" {
  name              = var.name
  version           = local.published_version
  source            = var.source_file
  sha256            = local.sha256
  metadata          = length(local.metadata) > 0 ? local.metadata : null
  retain_on_destroy = var.retain_on_destroy
}
