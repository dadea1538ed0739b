"""
Who may reach the web app and how: the hardened site (timeouts, limits,
refusals, trusted proxies), logins, API tokens, TLS certificates and the
warning about exposure.
"""
