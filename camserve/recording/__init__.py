"""
Recordings: a camera's frames kept in segment files, and reading them back
for playback and export.
"""
