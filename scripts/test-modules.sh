#!/usr/bin/env bash
# make testmodules: `terraform test` in every module under modules/, against the
# provider built into .tools/bin (dev overrides, so nothing is downloaded). Each
# module runs in a temporary copy with its fixtures in ./work, so nothing is written
# into the repository. Fails on the first module whose tests fail.
#
#   scripts/test-modules.sh <terraform-cli> <cli-config-with-dev-overrides>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tf=${1:?usage: $0 <terraform-cli> <cli-config-file>}
export TF_CLI_CONFIG_FILE=${2:?usage: $0 <terraform-cli> <cli-config-file>}
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
command -v git >/dev/null || { echo "test-modules: git is needed (scripts/test-deps.sh installs it)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
(cd "$root" && go build -o "$tmp/demoserver" ./tools/demoserver)

# Fixtures every module test may use, under ./work of the module copy:
#   dist/app-<v>.tar.gz for 1.0.0, 1.1.0 and 1.2.0 (index.html + health "ok"),
#   repo/: a git clone where 1.1.0's commit descends from 1.0.0's and 1.2.0's does not;
#   commits/<v>: the commit of each version, read by the tests with file();
#   maintenance/: an existing folder for maintenance pages;
#   sites/blue, sites/green served on loopback by tools/demoserver, their host:port in
#   blue.addr and green.addr (for the blue-green module's smoke tests and health checks).
make_fixtures() { # <dir>
  local w=$1 v
  mkdir -p "$w/dist" "$w/commits" "$w/repo" "$w/maintenance"
  git -C "$w/repo" init -q -b main
  git -C "$w/repo" -c user.name=test -c user.email=test@example.org commit -q --allow-empty -m "feat: 1.0.0"
  git -C "$w/repo" rev-parse HEAD | tr -d '\n' > "$w/commits/1.0.0"
  git -C "$w/repo" checkout -q -b side
  git -C "$w/repo" -c user.name=test -c user.email=test@example.org commit -q --allow-empty -m "feat: 1.2.0 from a branch that lost 1.1.0"
  git -C "$w/repo" rev-parse HEAD | tr -d '\n' > "$w/commits/1.2.0"
  git -C "$w/repo" checkout -q main
  git -C "$w/repo" -c user.name=test -c user.email=test@example.org commit -q --allow-empty -m "fix: 1.1.0"
  git -C "$w/repo" rev-parse HEAD | tr -d '\n' > "$w/commits/1.1.0"
  local c
  for c in blue green; do
    "$tmp/demoserver" -dir "$w/sites/$c" -listen 127.0.0.1:0 -addr-file "$w/$c.addr.tmp" >/dev/null 2>&1 &
    pids+=($!)
  done
  for c in blue green; do
    for _ in $(seq 100); do [ -s "$w/$c.addr.tmp" ] && break; sleep 0.05; done
    tr -d '\n' <"$w/$c.addr.tmp" >"$w/$c.addr"
  done
  for v in 1.0.0 1.1.0 1.2.0; do
    mkdir -p "$w/build/$v"
    printf '<h1>app %s</h1>\n' "$v" > "$w/build/$v/index.html"
    printf 'ok\n' > "$w/build/$v/health"
    tar -C "$w/build/$v" -czf "$w/dist/app-$v.tar.gz" .
  done
}

failed=()
for dir in "$root"/modules/*/; do
  name=$(basename "$dir")
  if ! compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then
    echo "test-modules: modules/$name has no tests/*.tftest.hcl" >&2
    failed+=("$name")
    continue
  fi
  copy=$tmp/$name
  cp -R "$dir" "$copy"
  rm -rf "$copy/.terraform" "$copy/.terraform.lock.hcl" "$copy/work"
  make_fixtures "$copy/work"
  echo "==> terraform test modules/$name"
  start=$(date +%s)
  # Local modules used by the tests need `terraform get`; the release provider
  # comes from the dev override, so `terraform init` (which would ask a registry)
  # is not needed.
  rc=0
  (cd "$copy" && "$tf" get -no-color >/dev/null && "$tf" test -no-color) >"$copy.log" 2>&1 || rc=$?
  # The dev-override warning is expected here: keep the rest of the output.
  grep -v -E 'development overrides|dev_overrides|may not match any released|state to become incompatible|releaseplan/release in |^releases\.$|CLI configuration|terraformrc|^[│╷╵]' "$copy.log" | cat -s
  [ "$rc" -eq 0 ] || failed+=("$name")
  echo "    modules/$name: $(( $(date +%s) - start ))s"
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-modules: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test-modules: all modules passed"
