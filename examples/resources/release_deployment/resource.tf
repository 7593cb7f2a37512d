resource "release_artifact" "app" {
  name    = "histologe"
  version = "1.7.4-staging"
  source  = "dist/histologe.tar.gz"
}

resource "release_environment_lock" "staging" {
  environment = "staging"
  reason      = "release 1.7.4"
  ttl         = "4h"
}

resource "release_deployment" "staging" {
  environment = "staging"
  artifact    = release_artifact.app.id
  sha256      = release_artifact.app.sha256
  lock_token  = release_environment_lock.staging.token

  directory {
    path          = "/srv/histologe"
    keep_releases = 5
    shared        = ["var/storage", ".env.local"]
  }

  hooks {
    before_switch = ["php bin/console doctrine:migrations:migrate --no-interaction"]
    after_switch  = ["php bin/console cache:warmup"]
  }

  backup {
    command = "pg_dump -Fc histologe > \"$RELEASE_BACKUP_FILE\""
  }

  smoke_test {
    url           = "http://127.0.0.1:8080/health"
    expect_status = 200
    body_contains = "ok"
    attempts      = 10
    interval      = "2s"
    timeout       = "5s"
  }

  rollback_on_failure = true

  timeouts {
    create = "20m"
    update = "20m"
  }
}

# Rolling back is applying the previous version again, e.g. with the version in a
# variable: terraform apply -var app_version=1.7.3
# The release folder of 1.7.3 goes live at once when it is still on the server.

# On Scalingo: the verified bytes are uploaded as a source archive and deployed with
# git_ref = version; a manual database backup is taken first (backup_id). Needs the
# provider's scalingo block (or SCALINGO_API_TOKEN).
resource "release_deployment" "production" {
  environment = "production"
  artifact    = "histologe@1.7.4"

  scalingo {
    app = "histologe"
  }

  backup {
    scalingo_addon = "postgresql"
  }

  smoke_test {
    url      = "https://histologe.osc-fr1.scalingo.io/health"
    attempts = 10
    interval = "5s"
  }
}
