#!/usr/bin/env bash
# make release-snapshot: builds what a release would publish, then installs and uses it
# the way a user does.
#
#   1. goreleaser release --snapshot --clean --skip=sign,publish into dist/ (version
#      <CHANGELOG top entry>-snapshot.<commit>; no GPG signature, nothing published);
#   2. dist/ holds, for every platform the registries list, one zip holding only
#      terraform-provider-release_v<version>[.exe] built for that platform (GOOS,
#      GOARCH, CGO_ENABLED=0 and -trimpath as read from the binary's build information,
#      and the version string inside), and a SHA256SUMS whose sums match and that lists
#      exactly those zips and the registry manifest (copied into dist/ under the name a
#      release uploads it with);
#   3. the zip of this machine's platform is put, as published, into a local
#      filesystem mirror; a copy of examples/quickstart (the only change: an override
#      file pinning the provider to the snapshot's version, since Terraform installs a
#      pre-release only when a constraint names it) runs `terraform init` from that
#      mirror with no dev override, then apply (outputs and the published bytes
#      checked), an empty plan, and destroy.
#
#   scripts/release-snapshot.sh <terraform-cli> [--no-build]   (--no-build: check dist/ as is)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tf=${1:?usage: $0 <terraform-cli> [--no-build]}
build=true
[ "${2:-}" = --no-build ] && build=false
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
unset TF_PLUGIN_CACHE_DIR TF_CLI_ARGS TF_CLI_ARGS_init TF_DATA_DIR

name=terraform-provider-release
address=releaseplan/release
dist=$root/dist
# What the Terraform and OpenTofu registries list for a provider (as the scaffolding
# provider builds): .goreleaser.yml must build exactly these.
platforms=(darwin_amd64 darwin_arm64 freebsd_386 freebsd_amd64 freebsd_arm freebsd_arm64
  linux_386 linux_amd64 linux_arm linux_arm64 windows_386 windows_amd64 windows_arm64)
here=$(go env GOOS)_$(go env GOARCH)

fail() {
  echo "release-snapshot: FAILED: $*" >&2
  exit 1
}
step() { printf '==> %s\n' "$*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

snapshot_build() {
  local next start
  command -v goreleaser >/dev/null || fail "goreleaser is not on PATH: run make release-snapshot, which installs it into .tools/bin"
  next=$("$root/scripts/release-check.sh" version)-snapshot.$(git -C "$root" rev-parse --short HEAD)
  step "goreleaser release --snapshot of $next (parallelism ${RELEASE_PARALLELISM:-1})"
  start=$(date +%s)
  (cd "$root" && RELEASE_SNAPSHOT_VERSION=$next goreleaser release --snapshot --clean --skip=sign,publish \
    --parallelism "${RELEASE_PARALLELISM:-1}") >"$tmp/goreleaser.log" 2>&1 ||
    { tail -n 40 "$tmp/goreleaser.log" >&2; fail "goreleaser release --snapshot (log above)"; }
  step "built in $(($(date +%s) - start)) s"
}

# snapshot_version prints the version dist/ was built for, from its SHA256SUMS' name.
snapshot_version() {
  local sums file
  sums=("$dist/${name}_"*_SHA256SUMS)
  if [ ${#sums[@]} -ne 1 ] || [ ! -f "${sums[0]}" ]; then
    fail "dist/ holds no single ${name}_<version>_SHA256SUMS: run make release-snapshot"
  fi
  file=${sums[0]##*/"${name}"_}
  echo "${file%_SHA256SUMS}"
}

# check_binary <binary> <os_arch> <version>: the build information Go records in the
# binary says it was built for that platform and version, the way the registries need.
check_binary() {
  local bin=$1 platform=$2 version=$3 info
  info=$(go version -m "$bin") || fail "$bin: no Go build information"
  grep -q -P "^\tbuild\tGOOS=${platform%_*}$" <<<"$info" || fail "$bin is not built for GOOS ${platform%_*}:"$'\n'"$info"
  grep -q -P "^\tbuild\tGOARCH=${platform#*_}$" <<<"$info" || fail "$bin is not built for GOARCH ${platform#*_}:"$'\n'"$info"
  grep -q -P '^\tbuild\tCGO_ENABLED=0$' <<<"$info" || fail "$bin is not built with CGO_ENABLED=0"
  grep -q -P '^\tbuild\t-trimpath=true$' <<<"$info" || fail "$bin is not built with -trimpath"
  # Go does not record -ldflags with -trimpath: the version string itself must be in it.
  grep -q -a -F -- "$version" "$bin" || fail "$bin does not hold its version $version (-X main.version)"
}

check_dist() { # <version>
  local version=$1 platform zip bin listed expected
  step "dist/: ${#platforms[@]} platform zips, manifest and SHA256SUMS of $version"
  expected=$tmp/expected.txt
  : >"$expected"
  for platform in "${platforms[@]}"; do
    zip=${name}_${version}_${platform}.zip
    bin=${name}_v${version}
    [[ $platform == windows_* ]] && bin=$bin.exe
    [ -f "$dist/$zip" ] || fail "dist/$zip is missing: .goreleaser.yml does not build $platform"
    listed=$(unzip -Z1 "$dist/$zip")
    [ "$listed" = "$bin" ] || fail "dist/$zip holds '${listed//$'\n'/ }', want only $bin"
    mkdir -p "$tmp/bin/$platform"
    unzip -q -o "$dist/$zip" -d "$tmp/bin/$platform" || fail "dist/$zip: cannot be unpacked"
    check_binary "$tmp/bin/$platform/$bin" "$platform" "$version"
    echo "$zip" >>"$expected"
  done
  [ "$(find "$dist" -maxdepth 1 -name '*.zip' | wc -l)" -eq ${#platforms[@]} ] ||
    fail "dist/ holds zips of platforms the registries do not list: $(cd "$dist" && find . -maxdepth 1 -name '*.zip' | grep -v -F -f "$expected" | tr '\n' ' ')"
  # A release uploads the manifest under this name (release.extra_files); a snapshot
  # publishes nothing, so it is put beside the zips here, for SHA256SUMS to be checked.
  cp "$root/terraform-registry-manifest.json" "$dist/${name}_${version}_manifest.json"
  echo "${name}_${version}_manifest.json" >>"$expected"
  (cd "$dist" && sha256sum --check --strict --quiet "${name}_${version}_SHA256SUMS") ||
    fail "dist/${name}_${version}_SHA256SUMS does not match the files"
  diff <(sort "$expected") <(awk '{ print $2 }' "$dist/${name}_${version}_SHA256SUMS" | sort) >"$tmp/sums.diff" ||
    fail "${name}_${version}_SHA256SUMS does not list exactly the zips and the manifest (< missing, > extra):"$'\n'"$(cat "$tmp/sums.diff")"
}

# write_mirror_config <mirror dir> <config file>: the CLI configuration a user writes to
# install the provider from a filesystem mirror, and never from a registry.
write_mirror_config() {
  cat >"$2" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$1"
    include = ["registry.terraform.io/$address", "registry.opentofu.org/$address"]
  }
  direct {
    exclude = ["registry.terraform.io/$address", "registry.opentofu.org/$address"]
  }
}
EOF
}

tf_run() { # <log name> <args...>: runs the CLI in the workspace, shows the log on failure
  local log=$tmp/$1.log
  shift
  (cd "$tmp/quickstart" && "$tf" "$@" -no-color) >"$log" 2>&1 || { cat "$log" >&2; fail "$(basename "$tf") $*"; }
}

tf_output() { (cd "$tmp/quickstart" && "$tf" output -raw "$1"); }

install_from_mirror() { # <version>
  local version=$1 zip=${name}_${1}_${here}.zip host sum
  step "terraform init of examples/quickstart from a filesystem mirror holding dist/$zip"
  for host in registry.terraform.io registry.opentofu.org; do
    mkdir -p "$tmp/mirror/$host/$address"
    cp "$dist/$zip" "$tmp/mirror/$host/$address/"
  done
  write_mirror_config "$tmp/mirror" "$tmp/mirror.tfrc"
  export TF_CLI_CONFIG_FILE=$tmp/mirror.tfrc

  mkdir -p "$tmp/quickstart"
  cp "$root"/examples/quickstart/*.tf "$tmp/quickstart/"
  cat >"$tmp/quickstart/release_snapshot_override.tf" <<EOF
terraform {
  required_providers {
    release = {
      source  = "$address"
      version = "= $version"
    }
  }
}
EOF
  tf_run init init
  grep -q -E "Installed releaseplan/release v$version" "$tmp/init.log" ||
    { cat "$tmp/init.log" >&2; fail "terraform init did not install releaseplan/release v$version"; }
  grep -q "version *= \"$version\"" "$tmp/quickstart/.terraform.lock.hcl" ||
    fail ".terraform.lock.hcl does not record version $version"

  tf_run version version
  grep -q -E "^\+ provider registry\.(terraform\.io|opentofu\.org)/$address v$version\$" "$tmp/version.log" ||
    { cat "$tmp/version.log" >&2; fail "terraform version does not show the provider at $version"; }
  host=$(find "$tmp/quickstart/.terraform/providers" -type f -name "${name}_v${version}" | head -n1)
  [ -n "$host" ] || fail "no ${name}_v${version} under .terraform/providers after init"
  cmp -s "$host" "$tmp/bin/$here/${name}_v${version}" || fail "the installed $host differs from the binary in dist/$zip"
  [ "$("$host" -version)" = "$name $version" ] || fail "$host -version says '$("$host" -version)', want '$name $version'"
  sum=$(awk -v z="$zip" '$2 == z { print $1 }' "$dist/${name}_${version}_SHA256SUMS")
  step "installed v$version (zip sha256 $sum), and it reports it"
}

apply_quickstart() {
  local vars=(-var app_version=1.0.0 -var tarball=dist/app-1.0.0.tar.gz) want got
  step "apply, plan, destroy of examples/quickstart with the installed provider"
  mkdir -p "$tmp/app" "$tmp/quickstart/dist"
  printf '<h1>app 1.0.0</h1>\n' >"$tmp/app/index.html"
  printf 'ok\n' >"$tmp/app/health"
  tar -C "$tmp/app" -czf "$tmp/quickstart/dist/app-1.0.0.tar.gz" index.html health
  want=$(sha256sum "$tmp/quickstart/dist/app-1.0.0.tar.gz" | cut -d' ' -f1)

  tf_run apply apply -auto-approve "${vars[@]}"
  [ "$(tf_output artifact)" = demo-app@1.0.0 ] || fail "output artifact = '$(tf_output artifact)', want demo-app@1.0.0"
  [ "$(tf_output sha256)" = "$want" ] || fail "output sha256 = '$(tf_output sha256)', want $want (the tarball's)"
  [ "$(tf_output next_patch)" = 1.0.1 ] || fail "output next_patch = '$(tf_output next_patch)', want 1.0.1"
  got=$(find "$tmp/quickstart/.release/artifacts" -type f -not -path '*/.tmp/*' -exec sha256sum {} + | awk -v w="$want" '$1 == w' | wc -l)
  [ "$got" -ge 1 ] || fail "the tarball's bytes are not in the quickstart's store ./.release/artifacts after the apply"

  (cd "$tmp/quickstart" && "$tf" plan -detailed-exitcode -no-color "${vars[@]}") >"$tmp/plan.log" 2>&1 ||
    { cat "$tmp/plan.log" >&2; fail "the plan right after the apply is not empty (exit 2 = changes)"; }
  tf_run destroy destroy -auto-approve "${vars[@]}"
  [ -z "$(cd "$tmp/quickstart" && "$tf" state list)" ] || fail "resources left in the state after destroy"
}

main() {
  local start version
  start=$(date +%s)
  $build && snapshot_build
  version=$(snapshot_version)
  check_dist "$version"
  install_from_mirror "$version"
  apply_quickstart
  step "release-snapshot: ok: dist/ holds $version for ${#platforms[@]} platforms; the $here zip installs from a mirror and applies examples/quickstart ($(($(date +%s) - start)) s)"
}

main
