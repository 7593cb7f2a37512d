# An environment lock is imported by environment name: the state adopts the lock the
# environment holds now (its id, holder, token, acquired_at and expires_at).
# Set holder in the configuration to the lock's holder. A lock whose holder is not the
# provider's actor stays that holder's: destroying or renewing it is refused, and
# release_environment_lock_force_release is the recorded way to break it.
terraform import release_environment_lock.staging staging
