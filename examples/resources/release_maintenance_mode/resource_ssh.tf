# Over SSH: the same maintenance page on every host, one host after the other; when
# one fails, the hosts already changed are put back. The deploy account must be able
# to write the files (the nginx snippet's folder, or the directory) and, for nginx,
# run the test and reload commands with sudo (a NOPASSWD rule).
variable "deploy_key" {
  description = "Private key (OpenSSH or PEM) of the deploy account on the hosts, e.g. from TF_VAR_deploy_key."
  type        = string
  sensitive   = true
}

# nginx on both load balancers: 503 for everyone but the office.
resource "release_maintenance_mode" "lb" {
  enabled     = true
  message     = "Maintenance in progress, back at 23:00"
  allowed_ips = ["203.0.113.10"]
  nginx {
    config_file    = "/etc/nginx/release/histologe-maintenance.conf" # included in the site's server {} block
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

# directory on every application server: maintenance.json and maintenance.html in
# the shared folder of the deployment, for the application to read.
resource "release_maintenance_mode" "fleet" {
  enabled = true
  banner  = true # the site stays up and shows a banner
  message = "Maintenance tonight from 22:00, about 30 minutes"
  directory {
    path = "/var/www/histologe/shared"
    ssh {
      hosts       = ["web1.example.org", "web2.example.org:2222"]
      user        = "deploy"
      private_key = var.deploy_key
      known_hosts = file("${path.module}/known_hosts")
    }
  }
}
