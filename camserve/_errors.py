# -*- test-case-name: tests.test_config -*-
"""
The error every part of camserve raises for a setting it cannot use: the
command line's, the config file's, and a driver's options.
"""


class ConfigError(ValueError):
    """
    A setting camserve cannot use. The message is one line naming the
    setting, what was given and what is allowed.
    """
