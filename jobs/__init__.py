"""Work over the store that is neither a request nor a stream: retention, GDPR erasure, rollup rebuilds,
their queues, and the upkeep that runs them inside ``analytics dev``. Requests only enqueue jobs; the
``analytics`` commands and CronJobs run them (ADR 0014)."""
