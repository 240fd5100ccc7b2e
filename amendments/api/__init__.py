"""The backend API: what a service calls to start amendments, place orders, send top-up
outcomes, revert, read state (`starter`), dry-run a plan (`planning`), list amendments
(`listing`) and replay failed ones (`replay`). The `amend` CLI goes through the same functions,
so a backend and an operator get the same answers."""
