# Blue/green on one machine: /srv-like folders under ./.release/blue-green, a web
# server per colour for the preview route, and one serving <path>/live/current.
#
#   terraform apply -var app_version=1.0.0 -var tarball=dist/app-1.0.0.tar.gz   # blue
#   terraform apply -var app_version=1.1.0 -var tarball=dist/app-1.1.0.tar.gz   # green, then switch
#   terraform apply -var app_version=1.1.0 -var tarball=dist/app-1.1.0.tar.gz -var rollback=true
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
