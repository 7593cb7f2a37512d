#!/usr/bin/env bash
# make testexamples: `terraform fmt -check` and `terraform validate` on every folder
# under examples/ that holds .tf files, against the provider built into .tools/bin
# (dev overrides: nothing is downloaded). Each folder is validated in a temporary
# copy (with modules/ beside it, for relative module sources), so nothing is written
# into the repository. Prints every failure and exits non-zero if there was one.
# Validation only: the examples (and the README's short example) are applied from an
# empty directory by TestExamplesApply (internal/provider/examples_apply_test.go),
# examples/pipeline and examples/scalingo by their own tests, all run by `go test`.
#
#   scripts/test-examples.sh <terraform-cli> <cli-config-with-dev-overrides>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tf=${1:?usage: $0 <terraform-cli> <cli-config-file>}
export TF_CLI_CONFIG_FILE=${2:?usage: $0 <terraform-cli> <cli-config-file>}
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=()
quiet() { grep -v -E 'development overrides|dev_overrides|may not match any released|state to become incompatible|releaseplan/release in |^releases\.$|CLI configuration|terraformrc|^[│╷╵ ]*$' "$1" || true; }

echo "==> terraform fmt -check -recursive examples modules"
if ! (cd "$root" && "$tf" fmt -check -recursive -diff examples modules) >"$tmp/fmt.log" 2>&1; then
  quiet "$tmp/fmt.log"
  failed+=("fmt")
fi

# A copy of the tree the examples may refer to (../../modules and the like).
mkdir -p "$tmp/tree"
(cd "$root" && tar --exclude=.terraform --exclude=.terraform.lock.hcl --exclude='*.tfstate*' --exclude=.release --exclude=dist -cf - examples modules) | tar -C "$tmp/tree" -xf -

count=0
while IFS= read -r dir; do
  rel=${dir#"$tmp/tree/"}
  count=$((count + 1))
  log=$tmp/validate.log
  # The documentation snippets (examples/resources/*, ...) are shown without a
  # terraform block: give them the provider's source, as a configuration using them has.
  if ! grep -q -s required_providers "$dir"/*.tf; then
    printf 'terraform {\n  required_providers {\n    release = {\n      source = "releaseplan/release"\n    }\n  }\n}\n' >"$dir/zz_test_examples_providers.tf"
  fi
  # Modules referenced by local paths are installed with `terraform get`; the
  # release provider comes from the dev override, so `terraform init` is not needed.
  if (cd "$dir" && "$tf" get -no-color && "$tf" validate -no-color) >"$log" 2>&1; then
    printf '    ok      %s\n' "$rel"
  else
    printf '    FAILED  %s\n' "$rel"
    quiet "$log" | sed 's/^/            /'
    failed+=("$rel")
  fi
done < <(find "$tmp/tree/examples" -name '*.tf' -not -path '*/.terraform/*' -exec dirname {} \; | sort -u)

[ "$count" -gt 0 ] || { echo "test-examples: no example found under examples/" >&2; exit 1; }
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-examples: FAILED (${#failed[@]}): ${failed[*]}" >&2
  exit 1
fi
echo "test-examples: $count example folders formatted and valid"
