output "id" {
  description = "The published artifact, name@version: pass it to release_deployment.artifact."
  value       = release_artifact.this.id
}

output "version" {
  description = "The published version, app_version on channel (e.g. 1.7.4-staging)."
  value       = release_artifact.this.version
}

output "sha256" {
  description = "sha256 of the published bytes."
  value       = release_artifact.this.sha256
}

output "size" {
  description = "Size of the published bytes."
  value       = release_artifact.this.size
}

output "uri" {
  description = "Where the bytes are stored."
  value       = release_artifact.this.uri
}

output "metadata" {
  description = "Metadata published with the bytes (git_commit, git_branch, built_by, ...)."
  value       = release_artifact.this.metadata
}

output "next" {
  description = "The versions that follow app_version: { patch, minor, major } (semver_bump), for the next build."
  value = {
    patch = provider::release::semver_bump(var.app_version, "patch")
    minor = provider::release::semver_bump(var.app_version, "minor")
    major = provider::release::semver_bump(var.app_version, "major")
  }
}

output "channels" {
  description = "The versions the same bytes take along the pipeline: { published, rc, release }."
  value = {
    published = local.published_version
    rc        = provider::release::semver_channel(var.app_version, "rc")
    release   = provider::release::semver_channel(var.app_version, "")
  }
}
