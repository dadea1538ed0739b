"""
camserve's built-in camera drivers, one module each.
"""
