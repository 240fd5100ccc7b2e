"""The Dintero simulator: an ASGI app with Dintero's paths, rules, auth and fault injection."""

from amendments.domain.ids import DEMO_ACCOUNT_ID
from amendments.simulator.app import FaultRule, Simulator, SimulatorConfig
from amendments.simulator.server import BackgroundServer

__all__ = ["DEMO_ACCOUNT_ID", "BackgroundServer", "FaultRule", "Simulator", "SimulatorConfig"]
