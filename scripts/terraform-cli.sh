#!/usr/bin/env bash
# Prints the path of a Terraform (>= 1.11) or OpenTofu (>= 1.11) CLI. When neither is
# on PATH, builds OpenTofu from its Go module into .tools/bin once (5-8 minutes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tofu_version=${TOFU_VERSION:-v1.12.6}

recent_enough() { # <binary>: version >= 1.11
  local out v
  out=$(CHECKPOINT_DISABLE=1 "$1" version 2>/dev/null) || return 1
  # OpenTofu prints CLI configuration warnings first when TF_CLI_CONFIG_FILE is missing.
  v=$(printf '%s\n' "$out" | sed -n -E 's/^(Terraform|OpenTofu) v([0-9]+)\.([0-9]+).*/\2 \3/p' | head -n1)
  set -- $v
  [ "${1:-0}" -gt 1 ] || { [ "${1:-0}" -eq 1 ] && [ "${2:-0}" -ge 11 ]; }
}

candidates=("${TF_ACC_TERRAFORM_PATH:-}" "$(command -v terraform || true)" "$(command -v tofu || true)" "$root/.tools/bin/tofu")
[ "${1:-}" = tofu ] && candidates=("$(command -v tofu || true)" "$root/.tools/bin/tofu")
for candidate in "${candidates[@]}"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && recent_enough "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done

echo "==> no Terraform >= 1.11 found: building OpenTofu $tofu_version into .tools/bin (once, several minutes)" >&2
mkdir -p "$root/.tools/bin"
dir=$(cd "$root" && GOFLAGS=-mod=mod go mod download -json "github.com/opentofu/opentofu@$tofu_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "could not download github.com/opentofu/opentofu@$tofu_version" >&2; exit 1; }
(cd "$dir" && GOFLAGS=-mod=mod go build -o "$root/.tools/bin/tofu" ./cmd/tofu) >&2
echo "$root/.tools/bin/tofu"
