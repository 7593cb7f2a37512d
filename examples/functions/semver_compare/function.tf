output "rc_is_older" {
  value = provider::release::semver_compare("1.7.4-rc", "1.7.4") # -1
}
