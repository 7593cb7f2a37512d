# The bytes built once and deployed to staging.
resource "release_artifact" "app" {
  name     = "histologe"
  version  = "1.7.4-staging"
  source   = "dist/histologe.tar.gz"
  metadata = { git_commit = "3f2a9c1" }
}

# What production runs now: its commit feeds the deploy-by-sha guard.
data "release_environment" "production" {
  environment = "production"
}

# Promote the bytes validated in staging to the release-candidate channel.
resource "release_promotion" "rc" {
  name                = "histologe"
  from_version        = release_artifact.app.version # "1.7.4-staging"
  to_version          = provider::release::semver_channel("1.7.4", "rc")
  sha256              = release_artifact.app.sha256 # the bytes reviewed are the bytes promoted
  require_deployed_in = ["staging"]                 # live and healthy there

  require_descendant_of {
    repository = "."
    commit     = data.release_environment.production.git_commit
  }
}

# Deploy the promoted bytes to acceptance.
resource "release_deployment" "recette" {
  environment = "recette"
  artifact    = release_promotion.rc.id
  sha256      = release_promotion.rc.sha256
  directory {
    path = "/srv/histologe-recette"
  }
}
