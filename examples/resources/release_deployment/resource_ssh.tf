# A fleet over SSH: the same release on every host, laid out on each as above
# (releases/, current, shared/ under path). The artifact is read from the store once
# and streamed to the hosts (max_parallel at a time); each host checks its sha256.
# Nothing switches until every host holds the release and its before_switch hooks
# passed; when a switch, an after_switch hook or the smoke test fails on any host,
# every switched host goes back to the release it served before.
variable "deploy_key" {
  description = "Private key (OpenSSH or PEM) of the deploy account on the hosts, e.g. from TF_VAR_deploy_key."
  type        = string
  sensitive   = true
}

resource "release_deployment" "web" {
  environment = "preprod"
  artifact    = "histologe@1.7.4" # published and promoted by an earlier run

  directory {
    path          = "/var/www/histologe"
    keep_releases = 5
    shared        = ["var/storage", ".env.local"]

    ssh {
      hosts           = ["web1.example.org", "web2.example.org:2222"] # host or host:port
      user            = "deploy"
      private_key     = var.deploy_key # or private_key_wo (never stored in the state), or agent = true
      known_hosts     = file("${path.module}/known_hosts")
      max_parallel    = 10
      connect_timeout = "30s"
    }
  }

  hooks {
    before_switch      = ["php bin/console cache:warmup"]                                 # every host, in the new release
    before_switch_once = ["php bin/console doctrine:migrations:migrate --no-interaction"] # the first host only
    after_switch       = ["sudo systemctl reload php8.2-fpm"]                             # every host
  }

  backup { # on the first host; the file comes back into the artifact store with its sha256
    command = "pg_dump -Fc histologe > \"$RELEASE_BACKUP_FILE\""
  }

  smoke_test { # on every host; {host} is the host's name without the SSH port
    url           = "http://{host}:8080/health"
    expect_status = 200
    attempts      = 10
  }
}

output "hosts_live" {
  description = "The release each host serves, e.g. { \"web1.example.org\" = \"1.7.4-20260102T150405Z\" }."
  value       = release_deployment.web.hosts_live
}
