output "artifact" {
  description = "The artifact deployed here, name@version."
  value       = release_deployment.this.artifact
}

output "deployed_version" {
  description = "The version live in this environment (what the target really serves)."
  value       = release_deployment.this.deployed_version
}

output "previous_version" {
  description = "The version live before the last deployment: apply it to roll back."
  value       = release_deployment.this.previous_version
}

output "sha256" {
  description = "sha256 of the live release's bytes."
  value       = release_deployment.this.sha256
}

output "release_id" {
  description = "The target's id of the live release (its folder under releases/ for a directory target)."
  value       = release_deployment.this.release_id
}

output "hosts_live" {
  description = "With ssh: the release each host serves, by host (null without ssh)."
  value       = release_deployment.this.hosts_live
}

output "backup_id" {
  description = "Id of the backup taken before the last switch, when a backup is configured."
  value       = release_deployment.this.backup_id
}

output "changes" {
  description = "With changelog: what the last deployment changed, one line per pull request or commit (\"Features: add export (#42)\")."
  value       = release_deployment.this.changes
}

output "planned_steps" {
  description = "The steps of the last deployment, as the plan showed them."
  value       = release_deployment.this.planned_steps
}

output "lock_token" {
  description = "Fencing token of the lock held until validation; null with an ephemeral lock or once validated."
  value       = local.managed_lock ? release_environment_lock.this[0].token : null
}

output "lock_holder" {
  description = "Who holds the environment's lock across applies; null when none is held."
  value       = local.managed_lock ? release_environment_lock.this[0].holder : null
}

output "promoted_version" {
  description = "The version promoted to the next channel once validated (e.g. 1.7.4-rc); null before."
  value       = local.promote ? release_promotion.next[0].to_version : null
}

output "promoted_artifact" {
  description = "The promoted artifact id, name@version, for the next environment; null before validation."
  value       = local.promote ? release_promotion.next[0].id : null
}

output "clearance" {
  description = "The clearance record <version>+<environment> published when the entry guards passed; null without guards."
  value       = local.entry_guard ? release_promotion.clearance[0].id : null
}

output "maintenance_enabled" {
  description = "Whether maintenance is on after this apply; null without a maintenance block."
  value       = one(release_maintenance_mode.this[*].enabled)
}
