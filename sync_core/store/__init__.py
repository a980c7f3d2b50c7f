"""The product's own tables (``qbsync_*``): run history and per-record entries, the audit trail
of QuickBooks calls, per-record sync state, the encrypted QuickBooks connection, and the lock
that lets one sync run per company.

May import ``domain``, the ``quickbooks.ports`` it implements, and the shared infrastructure.
They live in the MIS database or one of their own (``SYNC_DATABASE_URL``).
"""
