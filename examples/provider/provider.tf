# Everything is optional: with no blocks, artifacts and coordination data live in
# ./.release/artifacts and ./.release/state of the directory Terraform runs in.
provider "release" {}

# A shared setup: artifacts on a WebDAV server, locks and history in PostgreSQL.
provider "release" {
  alias = "shared"

  artifact_store {
    http {
      url      = "https://dav.example.org/releases"
      username = "ci"
      password = var.dav_password
    }
  }

  backend {
    postgres {
      dsn = var.release_dsn
    }
  }

  notify {
    webhook {
      url    = var.mattermost_webhook
      events = ["deployed", "rolled_back", "failed", "promoted"]
    }
  }
}

variable "dav_password" {
  type      = string
  sensitive = true
}

variable "release_dsn" {
  type      = string
  sensitive = true
}

variable "mattermost_webhook" {
  type      = string
  sensitive = true
}
