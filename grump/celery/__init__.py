"""Celery: the app factory, worker profiles, queues, beat's schedule and the thin tasks."""
