# Blue/green on one machine: /srv-like folders under ./.release/blue-green, a web
# server per colour for the preview route, and one serving <path>/live/current.
#
#   terraform apply -var app_version=1.0.0 -var tarball=dist/app-1.0.0.tar.gz   # blue
#   terraform apply -var app_version=1.1.0 -var tarball=dist/app-1.1.0.tar.gz   # green, then switch
#   terraform apply -var app_version=1.1.0 -var tarball=dist/app-1.1.0.tar.gz -var rollback=true
#
# A canary rollout behind nginx (terraform.tfvars sets nginx: the include file, the upstream
# name your server blocks proxy_pass to, and the commands): 1.2.0 goes to the idle colour, takes
# 10% then 50% then 100% of the requests, each step checked on nginx's JSON access log; a failed
# check sends everything back to the live colour. The apply without canary_rollout makes 1.2.0 active.
#
#   terraform apply -var app_version=1.2.0 -var tarball=dist/app-1.2.0.tar.gz -var canary_rollout=true
#   terraform apply -var app_version=1.2.0 -var tarball=dist/app-1.2.0.tar.gz
#
# Each step runs canary_pause (5m), the last canary_window (2m) of it analysed on at least
# canary_min_requests (50) requests; make demo runs short steps (3s, 3s, 20) under busy traffic.
terraform {
  required_version = ">= 1.11"
  required_providers {
    release = {
      source = "releaseplan/release"
    }
  }
}

provider "release" {}

variable "app_version" {
  description = "Version that should be live."
  type        = string
}

variable "tarball" {
  description = "Build output of app_version, published once."
  type        = string
}

variable "rollback" {
  description = "Switch back to the other colour without deploying."
  type        = bool
  default     = false
}

variable "upstreams" {
  description = "Where blue and green are served on their own, e.g. by go run ./tools/demoserver -dir .release/blue-green/blue -listen 127.0.0.1:8081."
  type = object({
    blue  = string
    green = string
  })
  default = {
    blue  = "127.0.0.1:8081"
    green = "127.0.0.1:8082"
  }
}

variable "nginx" {
  description = "Route with nginx instead of the live symlink (needed by canary_rollout): { config_file, upstream_name, reload_command, test_command }."
  type = object({
    config_file    = string
    upstream_name  = string
    reload_command = optional(string)
    test_command   = optional(string)
  })
  default = null
}

variable "canary_rollout" {
  description = "Roll app_version out as a canary behind nginx instead of switching all traffic at once."
  type        = bool
  default     = false
}

variable "canary_pause" {
  description = "How long the canary's 10% and 50% steps run before their analysis."
  type        = string
  default     = "5m"
}

variable "canary_window" {
  description = "How much of the end of each canary step nginx's access log is analysed over."
  type        = string
  default     = "2m"
}

variable "canary_min_requests" {
  description = "The fewest requests the canary colour must answer within a window to be judged."
  type        = number
  default     = 50
}

variable "access_log" {
  description = <<-EOT
    nginx's JSON access log of the site, e.g. written with
      log_format release_json escape=json '{"status":"$status","request_time":"$request_time","upstream_addr":"$upstream_addr"}';
      access_log /var/log/nginx/app.access.json release_json;
  EOT
  type        = string
  default     = "/var/log/nginx/app.access.json"
}

module "build" {
  source = "../../modules/artifact"

  name        = "web"
  app_version = var.app_version
  channel     = ""
  source_file = var.tarball
}

module "web" {
  source = "../../modules/blue-green"

  name        = "web"
  environment = "production"
  app_version = var.app_version
  rollback    = var.rollback
  path        = abspath("${path.root}/.release/blue-green")
  upstreams   = var.upstreams
  sha256      = module.build.sha256 # the bytes just published; also orders publish → deploy
  nginx       = var.nginx

  canary = var.canary_rollout ? {
    sticky = "cookie"
    steps  = [{ weight = 10, pause = var.canary_pause }, { weight = 50, pause = var.canary_pause }, { weight = 100 }]
    analysis = {
      access_log      = var.access_log
      window          = var.canary_window
      min_requests    = var.canary_min_requests
      max_error_rate  = 0.01
      max_p99_latency = "500ms"
    }
  } : null
}

output "active" {
  value = module.web.active
}

output "versions" {
  value = module.web.versions
}

output "serve" {
  description = "Serve the live colour with: go run ./tools/demoserver -dir <this>"
  value       = module.web.live_path
}

output "canary" {
  description = "The canary in effect: { colour, weight, summary }, or null."
  value       = module.web.canary
}
