output "release_candidate" {
  value = provider::release::semver_channel("1.7.4", "rc") # "1.7.4-rc"
}
