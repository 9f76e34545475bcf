"""Privacy shared by every service: what the gateway does to client addresses and user agents, each
tenant's privacy choices, users' tracking preferences and the suppressions of users being erased
(``docs/privacy.md``). Independent of :mod:`security` (ADR 0014)."""
