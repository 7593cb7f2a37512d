#!/usr/bin/env bash
# Installs the real components the tests start themselves (PostgreSQL, nginx with the
# WebDAV module, the OpenSSH server, git, curl, openssl, zstd) when they are missing.
# Debian packages only.
# With the argument "demo", only what make demo needs (git, curl, nginx).
set -euo pipefail

need=()
command -v git >/dev/null 2>&1 || need+=(git)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ "${1:-}" != demo ]; then
  if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    need+=(postgresql)
  fi
  [ -e /usr/lib/nginx/modules/ngx_http_dav_ext_module.so ] || need+=(libnginx-mod-http-dav-ext)
  # internal/sshtest starts /usr/sbin/sshd itself, each "host" in its own mount
  # namespace made with unshare (util-linux, normally already there).
  [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  command -v unshare >/dev/null 2>&1 || need+=(util-linux)
  # Hosts hash with openssl and extract with zstd (it reads gzip) when they have them;
  # the tests cover both ways.
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  command -v zstd >/dev/null 2>&1 || need+=(zstd)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The Debian packages start system services; the tests and the demo run their own
  # servers.
  for svc in nginx postgresql; do
    $sudo service "$svc" stop >/dev/null 2>&1 || true
  done
  # The system sshd is stopped only when this script installed it: a machine that
  # already ran one may be reached through it.
  case " ${need[*]} " in
  *" openssh-server "*) $sudo service ssh stop >/dev/null 2>&1 || true ;;
  esac
fi
