"""The learning platform's Analytics & Reporting API (``../shared/seeds/003_*``, ADR 0016): its routes under
``/api/admin``, ``/api/teacher`` and ``/api/student``, their envelopes, parameters and access rules, over the
readers of :mod:`query_api.lms`."""
