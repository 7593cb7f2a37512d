# Held for this plan or apply only: acquired when Terraform opens it, renewed while the
# run lasts, released when the run ends, also when it fails or is interrupted. If the
# runner is killed outright, the lock expires after its ttl and the next run takes it over.
#
# While this run holds it, every other run that opens a lock on staging (ephemeral or
# managed) fails at once naming this run's holder, or queues for its wait_timeout.
ephemeral "release_environment_lock" "run" {
  environment  = "staging"
  reason       = "terraform apply of release 1.7.4"
  ttl          = "15m" # default; renewed halfway through while the run lasts
  wait_timeout = "5m"  # queue behind another run instead of failing at once
}

# The token is ephemeral: it can be passed to ephemeral resources, provider blocks and
# write-only arguments, never stored in state. A deployment fenced with it checks, right
# before it changes the target, that the token is still the environment's current lock
# token, so a run whose lock was taken over cannot deploy over the run that holds it now.
