"""A local QuickBooks Online simulator: OAuth 2.0 plus the v3 Customer, query and batch API.

sim = QuickBooksSimulator(SimulatorConfig()).start()
refresh_token = sim.issue_refresh_token()
...
sim.stop()
"""

from .config import Faults, SimulatorConfig
from .simulator import QuickBooksSimulator
from .stats import RequestRecord, SimulatorState

__all__ = ["Faults", "QuickBooksSimulator", "RequestRecord", "SimulatorConfig", "SimulatorState"]
