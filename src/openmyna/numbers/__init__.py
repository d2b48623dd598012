"""Floor 1: My Numbers, corporate numbers, local-government and resident codes, agency-specific codes."""
