# A branch is imported by <repository>:<branch>.
terraform import release_git_branch.main .:main
