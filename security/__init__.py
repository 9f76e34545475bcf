"""Security shared by every service: credentials, roles and their rules, rate limits, privacy."""
