"""Security shared by every service: tokens, the principal, the role rules and their HTTP dependencies,
ingestion API keys, rate limits, the audit log and browser-facing protections (ADR 0007). Privacy has a
package of its own (:mod:`privacy`); neither imports the other (ADR 0014)."""
