"""Choosing a tier and model for a job, and pricing it: complexity, policy, catalogue."""
