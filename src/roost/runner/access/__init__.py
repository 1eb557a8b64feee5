"""What users connect to on a runner: exec streams (and, later, the SSH gateway and port proxy)."""
