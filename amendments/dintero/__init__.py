"""The Dintero Orders API client: `DinteroClient`, its token auth, wire models and errors."""

from amendments.dintero.auth import DinteroTokenAuth, validate_account_id
from amendments.dintero.client import DEFAULT_BASE_URL, DinteroClient, build_http
from amendments.dintero.errors import DinteroError

__all__ = [
    "DEFAULT_BASE_URL",
    "DinteroClient",
    "DinteroError",
    "DinteroTokenAuth",
    "build_http",
    "validate_account_id",
]
