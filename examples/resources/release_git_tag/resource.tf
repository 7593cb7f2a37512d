# Tag the commit that went live as 1.7.4, with the release notes as the message of an
# annotated tag, and push the tag to origin. A tag 1.7.4 already on another commit is
# refused with both commits named (force = true would move it); destroying the
# resource leaves the tag (on_destroy = "keep").
resource "release_git_tag" "release" {
  repository = "."
  name       = "1.7.4"
  # The released commit, e.g. data.release_artifact.live.metadata["git_commit"].
  commit = "3f2a9c1"
  # e.g. data.release_notes.next.markdown; omit for a lightweight tag.
  message = "histologe 1.7.4\n\n* fix: rounding of invoice totals\n"
  remote  = "origin"
}

output "tagged" {
  value = release_git_tag.release.planned_action
}
