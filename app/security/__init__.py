"""Security (issue 16): authentication (API keys, JWT), authorization (roles, tenants, plan ACLs), the audit
chain and rate limits. docs/security.md says what each part answers for; `init_security` wires it into the app.
"""

from app.security import audit_chain  # noqa: F401  (registers the SQLite audit hash function on every connection)
