"""Order amendments on Temporal for the Dintero Order Management API.

The package holds the domain (models, planner, ledger), the Dintero client (`amendments.dintero`),
the simulator (`amendments.simulator`), settings and the entry points; `workflows/` and
`activities/` sit beside it at the top of the repository.
"""

__version__ = "0.1.0"
