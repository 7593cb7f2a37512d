# A promotion is imported by the promoted artifact's id, name@to_version.
terraform import release_promotion.rc histologe@1.7.4-rc
