# Held for this plan or apply only: acquired when Terraform opens it, renewed while the
# run lasts, released when the run ends. Terraform does not close it when a resource
# that used it failed, so a release_deployment that fails releases the run lock whose
# token it was given (lock_token_wo): a re-run right after the failure gets the lock.
# A run that fails elsewhere, or a runner killed outright, leaves the lock until its
# ttl runs out; the next run then takes it over. That is why ttl cannot be "0s" here.
#
# While this run holds it, every other run that opens a lock on staging (ephemeral or
# managed) fails at once naming this run's holder, or queues for its wait_timeout.
ephemeral "release_environment_lock" "run" {
  environment  = "staging"
  reason       = "terraform apply of release 1.7.4"
  ttl          = "2m" # default; renewed every minute while the run lasts; never "0s"
  wait_timeout = "5m" # queue behind another run instead of failing at once
}

# The token is ephemeral: it can be passed to ephemeral resources, provider blocks and
# write-only arguments, never stored in state. release_deployment takes it in the
# write-only lock_token_wo (Terraform 1.11 or later): right before it changes the
# target, the deployment checks that the token is still the environment's current lock
# token, so a run whose lock was taken over or force-released cannot deploy over the
# run that holds it now. The plan shows the check among the planned steps; the token
# itself is in neither the plan nor the state.
resource "release_deployment" "staging" {
  environment   = "staging"
  artifact      = "histologe@1.7.4-staging"
  lock_token_wo = ephemeral.release_environment_lock.run.token

  directory {
    path = "/srv/histologe"
  }
}
