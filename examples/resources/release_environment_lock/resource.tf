# Held from the deploy to staging until a person has validated the release by hand:
# no other pipeline deploys to staging meanwhile. Destroy it (or remove it from the
# configuration and apply) once the validation is done.
resource "release_environment_lock" "staging" {
  environment  = "staging"
  holder       = "ci-job-4711" # default: the provider's actor, "<user>@<host>"
  reason       = "release 1.7.4: manual validation"
  ttl          = "4h"  # a forgotten lock may be taken over after 4 hours
  wait_timeout = "10m" # queue behind another pipeline instead of failing at once
}

# The fencing token refuses the deploy if the lock was taken over or force-released
# in the meantime.
resource "release_deployment" "staging" {
  environment = "staging"
  artifact    = "histologe@1.7.4-staging"
  lock_token  = release_environment_lock.staging.token

  directory {
    path = "/srv/histologe"
  }
}
