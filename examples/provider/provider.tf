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

  # Defaults for every ssh block (deployments, routers, maintenance pages): the
  # resources then only name their hosts. Host keys are always checked against
  # known_hosts, committed beside the configuration.
  ssh {
    user            = "deploy"
    private_key     = var.deploy_key # or agent = true (the ssh-agent at SSH_AUTH_SOCK)
    passphrase      = var.deploy_key_passphrase
    known_hosts     = file("${path.module}/known_hosts")
    connect_timeout = "30s"
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

# The provider's configuration is never written to the state; an ephemeral variable
# is not written to a saved plan either (give it again, e.g. as TF_VAR_deploy_key,
# when applying the plan).
variable "deploy_key" {
  type      = string
  sensitive = true
  ephemeral = true
}

variable "deploy_key_passphrase" {
  type      = string
  sensitive = true
  ephemeral = true
  default   = null # the key is not encrypted
}
