# -*- test-case-name: tests.test_tap -*-
"""
twistd's C{camserve} subcommand.
"""

from twisted.application.service import ServiceMaker

camserve = ServiceMaker(
    "camserve",
    "camserve.tap",
    "Serve a camera to web browsers as Motion JPEG.",
    "camserve",
)
