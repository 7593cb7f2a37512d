variable "name" {
  description = "Artifact name, usually the application's (\"histologe\")."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*$", var.name))
    error_message = "name must be letters, digits, '.', '_' and '-', starting with a letter or digit, e.g. \"histologe\"."
  }
}

variable "app_version" {
  description = "Version of the build, MAJOR.MINOR.PATCH (e.g. \"1.7.4\"); published as this version on `channel`."
  type        = string

  validation {
    condition     = can(regex("^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$", var.app_version))
    error_message = "app_version must be a semantic version without build metadata, MAJOR.MINOR.PATCH[-pre], e.g. \"1.7.4\"."
  }
}

variable "channel" {
  description = "Channel the build is published on: \"staging\" publishes 1.7.4-staging (promotions later publish the same bytes as -rc and as the release); \"\" publishes the release itself."
  type        = string
  default     = "staging"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9A-Za-z.-]*$", var.channel))
    error_message = "channel must be a semver pre-release identifier such as \"staging\" or \"dev.412\", or \"\" for the release itself."
  }
}

variable "source_file" {
  description = "The build output to publish, a .tar.gz of the release folder (e.g. \"dist/histologe.tar.gz\")."
  type        = string

  validation {
    condition     = can(regex("\\.(tar\\.gz|tgz)$", var.source_file))
    error_message = "source_file must be a gzip tarball (.tar.gz or .tgz) of the release folder, e.g. \"dist/histologe.tar.gz\"."
  }
}

variable "sha256" {
  description = "Expected sha256 of source_file, e.g. the build's own checksum. Default: filesha256(source_file) when the file exists at plan time. Bytes with another checksum are refused."
  type        = string
  default     = null

  validation {
    condition     = var.sha256 == null || can(regex("^[0-9a-fA-F]{64}$", var.sha256))
    error_message = "sha256 must be 64 hexadecimal characters (sha256sum's output)."
  }
}

variable "git_commit" {
  description = "Commit the build was made from (git rev-parse HEAD): it feeds the deploy-by-sha guard of production."
  type        = string
  default     = null

  validation {
    condition     = var.git_commit == null || can(regex("^[0-9a-f]{7,64}$", var.git_commit))
    error_message = "git_commit must be a hexadecimal commit id, e.g. the output of git rev-parse HEAD."
  }
}

variable "git_branch" {
  description = "Branch the build was made from (recorded in the metadata)."
  type        = string
  default     = null
}

variable "built_by" {
  description = "Who or what built it (CI job URL, user)."
  type        = string
  default     = null
}

variable "metadata" {
  description = "More metadata stored with the bytes. Published versions are immutable: do not put values that change on every run (timestamps) here."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "retain_on_destroy" {
  description = "Keep the published bytes when the resource is destroyed (or the version changes), as artifact repositories do."
  type        = bool
  default     = true
  nullable    = false
}
