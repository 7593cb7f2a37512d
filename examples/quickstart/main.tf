# Quickstart: publish a build output on the embedded defaults (./.release/).
#
#   terraform apply -var app_version=1.0.0 -var tarball=dist/app-1.0.0.tar.gz
terraform {
  required_version = ">= 1.11"
  required_providers {
    release = {
      source = "releaseplan/release"
    }
  }
}

provider "release" {}

variable "name" {
  type        = string
  default     = "demo-app"
  description = "Artifact name."
}

variable "app_version" {
  type        = string
  description = "Version to publish, e.g. 1.0.0."
}

variable "tarball" {
  type        = string
  description = "Tarball to publish."
}

resource "release_artifact" "app" {
  name     = var.name
  version  = var.app_version
  source   = var.tarball
  sha256   = filesha256(var.tarball)
  metadata = { built_by = "make demo" }
}

output "artifact" {
  value = release_artifact.app.id
}

output "sha256" {
  value = release_artifact.app.sha256
}

output "next_patch" {
  value = provider::release::semver_bump(var.app_version, "patch")
}
