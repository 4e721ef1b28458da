"""``qcm disconnect``: end a connection made by ``qcm connect``."""

from .connect import configure_disconnect as configure, run_disconnect as run

__all__ = ["configure", "run"]
