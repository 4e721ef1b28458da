"""inotify for the simulator's sysfs attributes: the binding lives in qcm.io.inotify (the hotplug
watch uses it too)."""

from __future__ import annotations

from ..io.inotify import (IN_CLOSE_WRITE, IN_CREATE, IN_DELETE_SELF, IN_IGNORED, IN_MODIFY, IN_MOVED_TO,
                          IN_Q_OVERFLOW, Inotify)

__all__ = ["Inotify", "IN_MODIFY", "IN_CLOSE_WRITE", "IN_CREATE", "IN_MOVED_TO", "IN_DELETE_SELF",
           "IN_Q_OVERFLOW", "IN_IGNORED"]
