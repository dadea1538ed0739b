"""
Recordings: each camera's frames written to disk as they arrive, in
segment files, and read back for playback and export (see
C{docs/recording-format.md}).
"""
