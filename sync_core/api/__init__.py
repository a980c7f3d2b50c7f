"""The REST API (FastAPI): the seed's endpoints and the runs, records and schedules beside them.

May import ``service`` and the layers below it, never the dashboard's ``pages``. Started by
``python -m sync_core serve`` (uvicorn), which also runs the schedules and notifications.
"""

from sync_core.api.app import create_app

__all__ = ["create_app"]
