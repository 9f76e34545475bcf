"""Helpers shared by the tests: credentials, oracles, example data, pipeline and process helpers."""
