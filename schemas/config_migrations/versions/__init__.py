"""Revisions of the configuration store, one file each, named ``NNNN_<what>.py`` with revision ``NNNN``."""
