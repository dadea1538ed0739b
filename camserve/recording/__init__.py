"""
Recordings: each camera's frames written to disk as they arrive, and read
back (see C{docs/recording-format.md}).
"""
