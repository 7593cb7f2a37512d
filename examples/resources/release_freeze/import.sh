# A freeze is imported by its id in the backend (shown in every refusal).
terraform import release_freeze.year_end freeze-3f2a9c1e0b7d
