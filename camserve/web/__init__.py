"""
The web app: a server's routes (grid, API, health, several cameras on one
connection), each camera's routes, the pages and their static files.
"""
