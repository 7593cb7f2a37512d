# An nginx router is imported by the include file it owns (the upstream name, preview
# server name and commands are read from the file's header).
terraform import release_blue_green_router.web /etc/nginx/conf.d/histologe-upstream.conf

# A directory router is imported by the directory holding the live symlink.
terraform import release_blue_green_router.docs /srv/docs
