# Release notes for 1.7.4: the commits since the previous tag, grouped into
# Features, Bug fixes and Changes, merged pull requests told by their titles.
data "release_notes" "next" {
  repository           = "."
  from                 = "1.7.3"
  to                   = "1.7.4"
  compare_url_template = "https://github.com/acme/histologe/compare/{from}...{to}"
}

output "release_notes" {
  value = data.release_notes.next.markdown
}

output "breaking_changes" {
  value = [for e in data.release_notes.next.entries : e.subject if e.breaking]
}
