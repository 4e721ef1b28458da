"""qcm: a connection manager for Qualcomm-based cellular modules."""

__version__ = "0.1.0"
