# A cancelled job left the staging lock behind (without a ttl). The plan shows whose
# lock will be broken (released_holder, released_token); the apply frees it and records
# a lock_force_released event in the history with the provider's actor and the reason.
resource "release_environment_lock_force_release" "staging" {
  environment = "staging"
  reason      = "job 4711 was cancelled"
  # The lock id printed in the "locked" error: if another lock was acquired since,
  # the apply fails and releases nothing.
  lock_id = "0b7f5a8e-3c1d-4e2f-9a6b-5d4c3b2a1f00"
}

# One-off from the command line, without changing a configuration:
#   terraform apply -target=release_environment_lock_force_release.staging
