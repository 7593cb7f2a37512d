# The ID names the backend: directory:<path>, nginx:<config_file> or scalingo:<app>.
terraform import release_maintenance_mode.production scalingo:histologe
terraform import release_maintenance_mode.web nginx:/etc/nginx/snippets/histologe-maintenance.conf
terraform import release_maintenance_mode.static directory:/srv/histologe/shared
