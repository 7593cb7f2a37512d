# Publish the build output once; promotions later reuse the same bytes.
resource "release_artifact" "app" {
  name    = "histologe"
  version = "1.7.4-staging"
  source  = "dist/histologe.tar.gz"
  # Optional: the checksum the build produced; other bytes are refused.
  # sha256 = filesha256("dist/histologe.tar.gz")
  metadata = { git_commit = "3f2a9c1", built_by = "ci" }
}

output "artifact" {
  value = release_artifact.app.id # "histologe@1.7.4-staging"
}
