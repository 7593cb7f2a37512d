output "next_patch" {
  value = provider::release::semver_bump("1.7.3", "patch") # "1.7.4"
}
