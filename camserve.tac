# -*- test-case-name: tests.test_running -*-
"""
camserve as a twistd application: C{twistd -ny camserve.tac}.

Settings come from the environment: CAMSERVE_CONFIG names a TOML file of
cameras; without it, CAMERA (the driver), CAMSERVE_ENDPOINT, CAMSERVE_SOURCE,
CAMSERVE_FPS, CAMSERVE_WIDTH, CAMSERVE_HEIGHT, CAMSERVE_QUALITY,
CAMSERVE_IDLE_TIMEOUT and the others in the README describe one camera.
"""

from twisted.application.service import Application

from camserve import ConfigError
from camserve.tap import build_service, config_from_environment

try:
    service = build_service(config_from_environment())
except ConfigError as error:
    raise SystemExit(f"camserve: {error}") from None

application = Application("camserve")
service.setServiceParent(application)
