"""Pure planning code: goals, task networks, decomposition, risk, resources.

Nothing in this package imports Flask, Celery, SQLAlchemy, `app` or `tasks`;
a test walks the imports to keep it that way.
"""
