"""Readers: one module per resource, each turning a request's scope and range into ClickHouse statements
(through :class:`query_api.store.QueryStore`) and plain results."""
