"""The domain: models of orders, requests, plans and results; the planner; the ledger checks.

Pure: no I/O, no Temporal, no httpx. Every decision about amounts, lines, tax and rounding is here.
"""
