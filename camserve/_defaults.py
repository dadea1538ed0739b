# -*- test-case-name: tests.test_settings -*-
"""
The defaults of camserve's settings, written once: the settings' schema
(L{camserve.config}) declares them, and the camera layer, the streams and the
site, which know nothing of the config, take them as their own defaults.
"""

ENDPOINT = "tcp:8080"
"""Where camserve listens."""
IDLE_TIMEOUT = 10.0
"""Seconds without viewers before a camera stops."""
START_TIMEOUT = 10.0
"""Seconds a viewer waits for a camera's first frame."""
KEEPALIVE = 2.0
"""Seconds without a new frame before viewers get the last one again."""
STALL_TIMEOUT = 30.0
"""Seconds a viewer may read nothing before it is disconnected."""
HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a whole request."""
MAX_CONNECTIONS = 1000
"""Connections served at once."""
MAX_CONNECTIONS_PER_CLIENT = 50
"""Connections served at once from one client address."""
SEGMENT_MINUTES = 5.0
"""Minutes of a camera's recording in one segment file."""
MIN_FREE_BYTES = 0
"""Bytes the recordings leave free on their disk."""
MOTION_THRESHOLD = 0.02
"""The activity (the fraction of the picture changed) that starts a motion
recording."""
PRE_ROLL = 5.0
"""Seconds recorded before motion starts."""
POST_ROLL = 10.0
"""Seconds recorded after motion ends."""
