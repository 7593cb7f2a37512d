# A block is imported by the blocked artifact's id, name@version.
terraform import release_version_block.bad histologe@1.7.4
