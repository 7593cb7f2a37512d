# The switch on both load balancers of an HA pair, over SSH, one host after the
# other: the upstream file is written beside config_file and renamed over it, then
# nginx tests it and reloads. When a host fails, the hosts already switched are put
# back and the error lists what each host routes to now. Refresh reads every host:
# hosts that disagree show as a change of `active` in the next plan.
# The deploy account owns /etc/nginx/release (included from http {}) and may run the
# two nginx commands with sudo (a NOPASSWD rule: there is no terminal for a password).
variable "deploy_key" {
  description = "Private key (OpenSSH or PEM) of the deploy account on the load balancers, e.g. from TF_VAR_deploy_key."
  type        = string
  sensitive   = true
}

resource "release_blue_green_router" "lb" {
  active = "blue"

  blue {
    upstream = "10.0.1.11:8080"
  }
  green {
    upstream = "10.0.1.12:8080"
  }

  nginx {
    config_file    = "/etc/nginx/release/histologe-upstream.conf"
    upstream_name  = "histologe_lb"
    test_command   = "sudo /usr/sbin/nginx -t -q"
    reload_command = "sudo /usr/sbin/nginx -s reload"

    ssh {
      hosts       = ["lb1.example.org", "lb2.example.org"]
      user        = "deploy"
      private_key = var.deploy_key # or private_key_wo (never stored in the state), or agent = true
      known_hosts = file("${path.module}/known_hosts")
    }
  }
}
