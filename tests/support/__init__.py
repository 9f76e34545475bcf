"""Helpers shared by the tests: credentials, oracles, example data, pipeline doubles, apps served in
process, services run as processes (``analytics dev``, the worker on a real broker) and reading rollups
back."""
