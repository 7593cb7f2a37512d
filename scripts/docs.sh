#!/usr/bin/env bash
# Regenerates docs/ with tfplugindocs from the provider's schema, read through the
# local CLI with dev overrides (no download of Terraform or of the provider).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tf=$1
tfrc=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/main.tf" <<'HCL'
terraform {
  required_providers {
    release = {
      source = "releaseplan/release"
    }
  }
}
HCL
(cd "$work" && TF_CLI_CONFIG_FILE="$tfrc" "$tf" providers schema -json 2>/dev/null) > "$work/schema.json"
# tfplugindocs looks the schema up by the provider's short name; Terraform and
# OpenTofu key it by their registry addresses.
sed -i -E 's#"registry\.(terraform\.io|opentofu\.org)/releaseplan/release"#"release"#' "$work/schema.json"
cd "$root"
go tool tfplugindocs generate --provider-name release --rendered-provider-name release --providers-schema "$work/schema.json"
