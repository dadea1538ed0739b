"""
The camera layer: frames, the hub of each camera, the capture thread of a
blocking driver, the service that owns cameras, their handles and events, and
the consumers that are no HTTP streams (thumbnails, frame queues).
"""
