"""The learning platform's configuration entities (ADR 0017): custom dashboards and their widgets, kept in
the configuration store (:mod:`plumbing.config_db`), tenant-scoped, audited, soft-deleted and versioned."""
