#!/usr/bin/env bash
# make release-check: what a release needs that a build does not show, in a second.
#
#   scripts/release-check.sh            goreleaser check, the registry manifest, and the
#                                       CHANGELOG against the tags (below)
#   scripts/release-check.sh version    prints the version of the CHANGELOG's top entry
#   scripts/release-check.sh notes TAG  prints the CHANGELOG entry of TAG (vX.Y.Z), the
#                                       release notes the release workflow publishes
#
# The CHANGELOG's entries are headed `## X.Y.Z (unreleased)` or `## X.Y.Z (Month D,
# YYYY)`, newest first. A release tag is vX.Y.Z (semantic version, optional -prerelease).
# When a tag is being released (RELEASE_TAG, else GITHUB_REF_NAME on a GitHub tag
# build, else a v* tag on HEAD), the top entry must be that version and dated. On any
# other commit, the top entry must announce a version above the last v* tag, or be the
# last tag's own dated entry (right after a release).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
changelog=$root/CHANGELOG.md
manifest=$root/terraform-registry-manifest.json
semver='[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z][0-9A-Za-z.-]*)?'
heading_re="^## ($semver) \\((unreleased|[A-Z][a-z]+ [0-9]{1,2}, [0-9]{4})\\)\$"

fail() {
  echo "release-check: $*" >&2
  exit 1
}

# vercmp A B: prints -1, 0 or 1 as semantic versions (a pre-release sorts before its
# release; pre-releases of one version compare with sort -V).
vercmp() {
  local a=$1 b=$2 ca=${1%%-*} cb=${2%%-*} first
  if [ "$a" = "$b" ]; then echo 0; return; fi
  if [ "$ca" != "$cb" ]; then
    first=$(printf '%s\n%s\n' "$ca" "$cb" | sort -V | head -n1)
    [ "$first" = "$ca" ] && echo -1 || echo 1
    return
  fi
  if [ "$a" = "$ca" ]; then echo 1; return; fi # b is a pre-release of a
  if [ "$b" = "$cb" ]; then echo -1; return; fi
  first=$(printf '%s\n%s\n' "$a" "$b" | sort -V | head -n1)
  [ "$first" = "$a" ] && echo -1 || echo 1
}

# entries: "<line> <version> <date or unreleased>" for every `## ` heading, newest
# first; fails on a heading that is not an entry heading.
entries() {
  [ -f "$changelog" ] || fail "$changelog is missing"
  local n=0 line
  while IFS= read -r line; do
    n=$((n + 1))
    case $line in "## "*) ;; *) continue ;; esac
    [[ $line =~ $heading_re ]] ||
      fail "CHANGELOG.md:$n: heading '$line' is not '## X.Y.Z (unreleased)' nor '## X.Y.Z (Month D, YYYY)'"
    echo "$n ${BASH_REMATCH[1]} ${BASH_REMATCH[3]}"
  done <"$changelog"
}

# load_entries reads the CHANGELOG's entries into $ENTRIES (once: a failure stops the
# script here, not in a subshell) and its top entry into $TOP and $TOP_DATE.
load_entries() {
  ENTRIES=$(entries)
  [ -n "$ENTRIES" ] || fail "CHANGELOG.md has no '## X.Y.Z (...)' entry"
  read -r _ TOP TOP_DATE <<<"${ENTRIES%%$'\n'*}"
}

check_changelog_order() {
  local prev="" prev_line=0 n v when
  while read -r n v when; do
    if [ "$when" != unreleased ]; then
      date -d "$when" +%F >/dev/null 2>&1 || fail "CHANGELOG.md:$n: '$when' is not a date (Month D, YYYY)"
    fi
    if [ -n "$prev" ] && [ "$(vercmp "$v" "$prev")" != -1 ]; then
      fail "CHANGELOG.md:$n: $v is not older than $prev (line $prev_line): entries go newest first, one per version"
    fi
    prev=$v prev_line=$n
  done <<<"$ENTRIES"
}

# release_tag prints the tag being released, if any.
release_tag() {
  if [ -n "${RELEASE_TAG:-}" ]; then
    echo "$RELEASE_TAG"
  elif [ "${GITHUB_REF_TYPE:-}" = tag ] && [ -n "${GITHUB_REF_NAME:-}" ]; then
    echo "$GITHUB_REF_NAME"
  else
    git -C "$root" tag --points-at HEAD --list 'v*' 2>/dev/null | head -n1
  fi
}

check_tag() { # <tag> <top version> <top date>
  local tag=$1 top=$2 when=$3
  [[ $tag =~ ^v$semver$ ]] || fail "tag '$tag' is not vX.Y.Z (a semantic version after v): the registries would not list it"
  [ "${tag#v}" = "$top" ] ||
    fail "tag $tag releases ${tag#v}, but the CHANGELOG's top entry is $top: add '## ${tag#v} ($(date -u '+%B %-d, %Y'))' on top, or tag v$top"
  [ "$when" != unreleased ] ||
    fail "tag $tag: the CHANGELOG entry '## $top (unreleased)' has no date: write '## $top ($(date -u '+%B %-d, %Y'))' before tagging"
}

check_against_last_tag() { # <top version> <top date>
  local top=$1 when=$2 last cmp
  last=$(git -C "$root" tag --list 'v*' 2>/dev/null | grep -E "^v$semver\$" | sed 's/^v//' | sort -V | tail -n1 || true)
  [ -n "$last" ] || return 0
  cmp=$(vercmp "$top" "$last")
  if [ "$cmp" = -1 ]; then
    fail "the CHANGELOG's top entry $top is older than the last tag v$last: start the entry of the next version on top"
  fi
  if [ "$cmp" = 0 ] && [ "$when" = unreleased ]; then
    fail "v$last is tagged already, but its entry says (unreleased): date it, and put the next version's entry above it"
  fi
  if [ "$cmp" = 1 ] && ! awk -v v="$last" '$2 == v && $3 != "unreleased" { found = 1 } END { exit !found }' <<<"$ENTRIES"; then
    fail "the last tag v$last has no dated '## $last (Month D, YYYY)' entry in CHANGELOG.md"
  fi
}

check_manifest() {
  [ -f "$manifest" ] || fail "$manifest is missing: the registries read the provider's protocol from it"
  tr -d ' \n\t' <"$manifest" | grep -q '"protocol_versions":\["6.0"\]' ||
    fail "terraform-registry-manifest.json must list protocol_versions [\"6.0\"]: main.go serves protocol 6 (terraform-plugin-framework)"
}

check_goreleaser() {
  local out
  # Only scripts/release-check-selftest.sh skips it: its cases are about the CHANGELOG.
  [ -z "${RELEASE_CHECK_SKIP_GORELEASER:-}" ] || return 0
  command -v goreleaser >/dev/null || fail "goreleaser is not on PATH: run make release-check, which installs it into .tools/bin"
  out=$(cd "$root" && goreleaser check 2>&1) || { printf '%s\n' "$out" >&2; fail "goreleaser check: .goreleaser.yml is not valid (above)"; }
}

check() {
  local tag
  check_goreleaser
  check_manifest
  load_entries
  check_changelog_order
  tag=$(release_tag)
  if [ -n "$tag" ]; then
    check_tag "$tag" "$TOP" "$TOP_DATE"
    echo "release-check: ok: $tag is the CHANGELOG's top entry $TOP ($TOP_DATE)"
  else
    check_against_last_tag "$TOP" "$TOP_DATE"
    echo "release-check: ok: .goreleaser.yml is valid; the CHANGELOG's top entry is $TOP ($TOP_DATE)"
  fi
}

notes() { # <tag>
  local tag=${1:?usage: $0 notes vX.Y.Z} n
  load_entries
  n=$(awk -v v="${tag#v}" '$2 == v { print $1; exit }' <<<"$ENTRIES")
  [ -n "$n" ] || fail "CHANGELOG.md has no entry for ${tag#v}"
  # The entry's body: the lines after its heading up to the next entry, without the
  # blank lines around it.
  tail -n +"$((n + 1))" "$changelog" | awk '/^## / { exit } { print }' | sed -e '/./,$!d' | tac | sed -e '/./,$!d' | tac
}

case ${1:-check} in
check) check ;;
version) load_entries; echo "$TOP" ;;
notes) notes "${2:-}" ;;
*) fail "usage: $0 [check | version | notes vX.Y.Z]" ;;
esac
