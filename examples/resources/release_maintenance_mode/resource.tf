# Scalingo: sets MAINTENANCE_ENABLE / MAINTENANCE_BANNER_ENABLE / MAINTENANCE_BANNER_MESSAGE,
# then restarts the app and waits for the restart.
variable "maintenance" {
  type        = bool
  description = "Turn maintenance on for this apply; a later apply with false turns it off."
  default     = false
}

resource "release_maintenance_mode" "production" {
  enabled = var.maintenance
  message = "Mise à jour en cours, retour vers 23h."
  scalingo {
    app = "histologe"
  }
}

# nginx: a snippet included in the site's server {} block answers 503 (with Retry-After)
# to everyone but the office.
resource "release_maintenance_mode" "web" {
  enabled     = true
  message     = "Maintenance in progress"
  reason      = "PostgreSQL 15 upgrade"
  until       = "2025-03-01T23:00:00+01:00"
  allowed_ips = ["203.0.113.10", "10.0.0.0/8"]
  nginx {
    config_file    = "/etc/nginx/snippets/histologe-maintenance.conf"
    reload_command = "sudo systemctl reload nginx"
    test_command   = "sudo nginx -t -q"
  }
}

# directory: writes maintenance.json and maintenance.html for the application to read.
resource "release_maintenance_mode" "static" {
  enabled = true
  banner  = true # the site stays up and shows a banner
  message = "Maintenance tonight from 22:00"
  directory {
    path = "/srv/histologe/shared"
  }
}
