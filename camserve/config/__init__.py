"""
camserve's settings: the command line's and the environment's, the TOML
config file, and reloading it.
"""
