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

# Rolling back is applying the previous version again:
#   terraform apply -var version=1.7.3
# The release folder of 1.7.3 goes live at once when it is still on the server.
