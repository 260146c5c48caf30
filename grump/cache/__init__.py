"""The completion cache: memory (L1), Redis (L2) and disk (L3) tiers, read through.

``keys`` names an entry (a hash of the canonical request inside a per-tenant
namespace), ``codec`` turns values into bytes (compressed above a threshold),
the tier modules store bytes, ``tiered`` reads through them with promotion,
and ``completions`` speaks in cached answers of complete jobs.
"""
