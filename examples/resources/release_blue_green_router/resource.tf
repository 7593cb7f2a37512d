variable "active" {
  description = "Colour that receives all traffic. Deploy to the other one, test it on the preview route, then switch."
  type        = string
  default     = "green"
}

# nginx in front of two application servers. /etc/nginx/conf.d/*.conf is included in
# http {}; the site's server block sends traffic to the upstream the resource owns:
#
#   server {
#     listen 80;
#     server_name histologe.example.org preview.histologe.example.org;
#     location / {
#       proxy_pass http://$histologe_backend;   # X-Release-Preview: 1 or the preview host reach the idle colour
#       # proxy_pass http://histologe;          # live colour only
#     }
#   }
resource "release_blue_green_router" "web" {
  active      = var.active
  environment = "production" # every switch is recorded in the release history

  blue {
    upstream = "127.0.0.1:8081"
  }
  green {
    upstream = "127.0.0.1:8082"
  }

  nginx {
    config_file         = "/etc/nginx/conf.d/histologe-upstream.conf" # owned by the resource
    upstream_name       = "histologe"
    test_command        = "nginx -t"
    reload_command      = "nginx -s reload"
    preview_server_name = "preview.histologe.example.org"
  }

  health_check { # the colour about to go live must pass, or nothing switches
    path          = "/health"
    expect_status = 200
    body_contains = "ok"
    attempts      = 5
    interval      = "2s"
    timeout       = "5s"
  }
}

output "rollback_to" {
  description = "Apply with -var active=<this> to switch back."
  value       = release_blue_green_router.web.previous_active
}

# A static site: /srv/docs/live is a symlink to /srv/docs/blue or /srv/docs/green,
# served by nginx with `root /srv/docs/live/public;`.
resource "release_blue_green_router" "docs" {
  active = "blue"
  directory {
    path = "/srv/docs"
  }
}
