"""Money after the call: budgets (reserve, settle, alerts), cost queries, rollups, reports."""
