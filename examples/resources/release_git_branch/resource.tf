# Move main on origin forward to the commit that went live: only a fast-forward
# (refused, naming both commits, when main's tip is not an ancestor of the commit),
# pushed with git push --atomic, never forced. A main that already contains the
# commit is left where it is; destroying the resource leaves the branch.
resource "release_git_branch" "main" {
  repository = "."
  name       = "main"
  # The released commit, e.g. data.release_artifact.live.metadata["git_commit"].
  commit = "3f2a9c1"
  remote = "origin"
}

output "moved" {
  value = release_git_branch.main.planned_action
}
