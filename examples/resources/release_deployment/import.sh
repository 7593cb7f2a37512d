# A directory deployment is imported by <environment>:<absolute path>; the live
# release (the target of <path>/current) becomes the state.
terraform import release_deployment.staging staging:/srv/histologe
