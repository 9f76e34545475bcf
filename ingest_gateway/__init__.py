"""Ingestion gateway: validates event batches over HTTP and produces them to Kafka."""
