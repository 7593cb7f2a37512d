#!/usr/bin/env bash
# Tests of scripts/release-check.sh (run by make release-check): each case copies the
# script, CHANGELOG.md and the registry manifest into a throwaway git repository, edits
# the CHANGELOG, tags or the manifest as a maintainer would, and checks that the script
# accepts or refuses it with the expected message. goreleaser check is left out here
# (RELEASE_CHECK_SKIP_GORELEASER=1): release-check.sh runs it on the real repository.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

repo() { # fresh repository with the project's CHANGELOG, top entry "## 0.2.0 (unreleased)"
  rm -rf "$tmp/r" && mkdir -p "$tmp/r/scripts" && cd "$tmp/r"
  cp "$root/scripts/release-check.sh" scripts/
  cp "$root/terraform-registry-manifest.json" .
  { printf '# Changelog\n\n## 0.2.0 (unreleased)\n\n* two\n\n## 0.1.0 (unreleased)\n\n* one\n'; } >CHANGELOG.md
  git init -q . && git add -A && git -c user.email=t@example.org -c user.name=t commit -q -m init
}
commit() { git add -A && git -c user.email=t@example.org -c user.name=t commit -q --allow-empty -m "$1"; }
heading() { sed -i "s/^## $1\$/## $2/" CHANGELOG.md; } # heading 'OLD' 'NEW'

# expect <ok|fail> <text the output must contain> <description> [env assignments...]
expect() {
  local want=$1 text=$2 what=$3 out rc=0
  shift 3
  out=$(env RELEASE_CHECK_SKIP_GORELEASER=1 GITHUB_REF_TYPE= GITHUB_REF_NAME= RELEASE_TAG= "$@" scripts/release-check.sh 2>&1) || rc=$?
  if { [ "$want" = ok ] && [ $rc -eq 0 ]; } || { [ "$want" = fail ] && [ $rc -ne 0 ]; }; then
    if [[ $out == *"$text"* ]]; then
      passed=$((passed + 1))
      return
    fi
  fi
  failed=$((failed + 1))
  printf 'FAIL: %s: want %s with "%s", got exit %d:\n%s\n' "$what" "$want" "$text" "$rc" "$out"
}

repo
expect ok "top entry is 0.2.0 (unreleased)" "no tag yet, unreleased top entry"
expect fail "has no date" "tagging an unreleased entry" RELEASE_TAG=v0.2.0
expect fail "tag v0.3.0 releases 0.3.0, but the CHANGELOG's top entry is 0.2.0" "tag of another version" RELEASE_TAG=v0.3.0
expect fail "is not vX.Y.Z" "tag that is not a semantic version" RELEASE_TAG=v0.2
heading '0.2.0 (unreleased)' '0.2.0 (December 3, 2026)'
commit dated
expect ok "v0.2.0 is the CHANGELOG's top entry 0.2.0 (December 3, 2026)" "release tag (RELEASE_TAG)" RELEASE_TAG=v0.2.0
expect ok "v0.2.0 is the CHANGELOG's top entry" "GitHub tag build" GITHUB_REF_TYPE=tag GITHUB_REF_NAME=v0.2.0
expect ok "top entry is 0.2.0" "GitHub branch build is not a release" GITHUB_REF_TYPE=branch GITHUB_REF_NAME=v0.2.0
git tag v0.2.0
expect ok "v0.2.0 is the CHANGELOG's top entry" "v* tag on HEAD"
commit later
expect ok "top entry is 0.2.0 (December 3, 2026)" "commit after the release, no new entry yet"
heading '0.2.0 (December 3, 2026)' '0.2.0 (unreleased)'
expect fail "v0.2.0 is tagged already, but its entry says (unreleased)" "released entry marked unreleased"
heading '0.2.0 (unreleased)' '0.1.5 (unreleased)'
expect fail "0.1.5 is older than the last tag v0.2.0" "top entry older than the last tag"
heading '0.1.5 (unreleased)' '0.3.0 (unreleased)'
expect fail "the last tag v0.2.0 has no dated '## 0.2.0 (Month D, YYYY)' entry" "the released version's entry was renamed"
git checkout -q CHANGELOG.md
sed -i '3i ## 0.3.0 (unreleased)\n\n* three\n' CHANGELOG.md
expect ok "top entry is 0.3.0 (unreleased)" "next version's entry above the released one"
expect ok "top entry is 0.3.0-rc.1" "pre-release heading" RELEASE_TAG= bash -c "sed -i 's/^## 0.3.0 (unreleased)/## 0.3.0-rc.1 (unreleased)/' CHANGELOG.md && exec \"\$0\"" 
git checkout -q CHANGELOG.md
sed -i '3i ## 0.3.0-rc.1 (December 4, 2026)\n\n* rc\n' CHANGELOG.md
expect ok "v0.3.0-rc.1 is the CHANGELOG's top entry" "pre-release tag" RELEASE_TAG=v0.3.0-rc.1
heading '0.1.0 (unreleased)' '0.4.0 (unreleased)'
expect fail "0.4.0 is not older than 0.2.0" "entries out of order"
heading '0.4.0 (unreleased)' '0.1.0 (Dec 3rd)'
expect fail "is not '## X.Y.Z (unreleased)' nor '## X.Y.Z (Month D, YYYY)'" "heading of another form"
heading '0.1.0 (Dec 3rd)' '0.1.0 (Smarch 3, 2026)'
expect fail "'Smarch 3, 2026' is not a date" "date that is not one"
heading '0.1.0 (Smarch 3, 2026)' '0.1.0 (unreleased)'
printf '{"version": 1, "metadata": {"protocol_versions": ["5.0"]}}\n' >terraform-registry-manifest.json
expect fail 'must list protocol_versions ["6.0"]' "manifest of another protocol"
git checkout -q terraform-registry-manifest.json
notes=$(scripts/release-check.sh notes v0.2.0)
if [ "$notes" = "* two" ]; then passed=$((passed + 1)); else
  failed=$((failed + 1))
  printf 'FAIL: notes v0.2.0: got:\n%s\n' "$notes"
fi
# shellcheck disable=SC2016 # $0 is expanded by that bash: release-check.sh
expect fail "has no entry for 9.9.9" "notes of a version without entry" bash -c 'exec "$0" notes v9.9.9'

echo "release-check-selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
