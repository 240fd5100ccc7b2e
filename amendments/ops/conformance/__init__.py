"""`amend conformance` (`harness`)."""
