"""The Postgres (or embedded SQLite) ledger: jobs, results, cost events, keys."""
