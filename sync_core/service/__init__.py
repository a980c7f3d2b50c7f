"""The service: the use cases the dashboard, the CLI and the API call, through one facade.

Owns :class:`SyncService` (analysis, preview, records, runs, the QuickBooks connection, syncs
in the foreground and background) and the wiring that builds it from the settings. May import
every other layer; nothing in ``sync_core`` imports it except the CLI.
"""

from sync_core.service.facade import SyncService, open_service

__all__ = ["SyncService", "open_service"]
