# An environment lock is imported by environment name: the state adopts the lock the
# environment holds now (its id, holder, token, acquired_at and expires_at).
terraform import release_environment_lock.staging staging
