"""Celery side: thin stage tasks, the chain builder and the beat schedule."""
