"""A local QuickBooks Online simulator: OAuth 2.0 plus the v3 Customer, query and batch API.

sim = QuickBooksSimulator(SimulatorConfig(), customers=existing_customers).start()
refresh_token = sim.issue_refresh_token()
sim.edit_customer("58", Notes="Paid")  # as finance staff would
...
sim.stop()

See README.md beside this file for the command line and the /_simulator/ admin endpoints.
"""

from .config import Faults, SimulatorConfig
from .simulator import QuickBooksSimulator
from .stats import RequestRecord, SimulatorState

__all__ = ["Faults", "QuickBooksSimulator", "RequestRecord", "SimulatorConfig", "SimulatorState"]
