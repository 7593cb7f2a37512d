# An artifact is imported by name@version.
terraform import release_artifact.app histologe@1.7.4-staging
