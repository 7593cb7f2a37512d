# What runs in production, since when, who put it there.
data "release_environment" "production" {
  environment = "production"
}

output "production" {
  value = {
    version     = data.release_environment.production.version
    git_commit  = data.release_environment.production.git_commit
    deployed_at = data.release_environment.production.deployed_at
    deployed_by = data.release_environment.production.deployed_by
    healthy     = data.release_environment.production.healthy
  }
}
