"""
HTTP streams of frames: the viewer of one camera, the viewer of several, the
close-delimited response, and the direct send and send queue that keep a
viewer cheap and bounded.
"""
