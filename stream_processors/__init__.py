"""Stream processors: Faust agents that sink raw events into ClickHouse and maintain the rollups."""
