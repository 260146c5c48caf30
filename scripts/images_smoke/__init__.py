"""Smoke tests of the built images (python -m scripts.images_smoke)."""
