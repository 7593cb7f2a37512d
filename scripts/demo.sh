#!/usr/bin/env bash
# make demo: a local release on the embedded defaults, printed step by step.
# Everything it creates lives under .release/demo of the repository.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tf=$1
export TF_CLI_CONFIG_FILE=$2
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
demo=$root/.release/demo
rm -rf "$demo"
mkdir -p "$demo/dist"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

build_site() { # <version> <health body>
  local v=$1 dir=$demo/build/$1
  mkdir -p "$dir"
  printf '<h1>demo-app %s</h1>\n' "$v" > "$dir/index.html"
  printf '%s\n' "$2" > "$dir/health"
  tar -C "$dir" -czf "$demo/dist/app-$v.tar.gz" .
}

step "Building two versions of a small web app (1.0.0 and 1.0.1) into $demo/dist"
build_site 1.0.0 ok
build_site 1.0.1 ok
ls -l "$demo/dist"

cp "$root/examples/quickstart/main.tf" "$demo/main.tf"
cd "$demo"
for v in 1.0.0 1.0.1; do
  step "Plan: publish demo-app@$v (the plan shows its sha256 before anything is written)"
  "$tf" plan -no-color -var app_version=$v -var tarball=dist/app-$v.tar.gz -out=plan.out | sed -n '/Terraform will perform/,/Plan:/p'
  step "Apply: publish demo-app@$v"
  "$tf" apply -no-color -auto-approve plan.out | tail -n 6
  # Each version is its own artifact: keep the published one out of the next plan.
  "$tf" state rm -no-color release_artifact.app >/dev/null
done

step "Published artifacts (immutable, one folder per version):"
find .release/artifacts -name metadata.json | sort | sed "s#^#  $demo/#"
echo
echo "Done. Everything the demo wrote is under $demo"
