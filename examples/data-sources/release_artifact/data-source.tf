data "release_artifact" "prod" {
  name    = "histologe"
  version = "1.7.4"
}

output "production_commit" {
  value = data.release_artifact.prod.metadata.git_commit
}
