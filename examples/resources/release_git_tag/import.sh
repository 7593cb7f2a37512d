# A tag is imported by <repository>:<tag>; with remote set after the import, the
# remote's tag is the one read.
terraform import release_git_tag.release .:1.7.4
