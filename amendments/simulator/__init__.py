"""The Dintero simulator: an ASGI app with Dintero's paths, rules, auth and fault injection."""

from amendments.simulator.app import DEMO_ACCOUNT_ID, FaultRule, Simulator, SimulatorConfig
from amendments.simulator.server import BackgroundServer

__all__ = ["DEMO_ACCOUNT_ID", "BackgroundServer", "FaultRule", "Simulator", "SimulatorConfig"]
