"""Reports of the learning platform (seed 003's reporting half): a report's data as a
:class:`~query_api.lms_reports.document.ReportDocument` built by the same readers as the API, written as
JSON, CSV, Excel or PDF, off the request path."""
