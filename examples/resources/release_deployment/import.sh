# A directory deployment is imported by <environment>:<absolute path>; the live
# release (the target of <path>/current) becomes the state.
terraform import release_deployment.staging staging:/srv/histologe

# A Scalingo deployment is imported by <environment>:scalingo:<app>; the live version
# is the git_ref of the app's last successful deployment, and the artifact name comes
# from the environment's release history.
terraform import release_deployment.production production:scalingo:histologe

# When the history has no deployment of that version (the app was deployed by other
# means until now), name the artifact: <environment>:scalingo:<app>:<artifact name>.
terraform import release_deployment.production production:scalingo:histologe:histologe
