"""The QuickBooks Online adapter: the HTTP client (Customer, query, batch), OAuth through
intuit-oauth, per-company limits, and the table of error codes and what to do about them.

May import ``domain`` only. It knows no storage: tokens and the audit trail are handed in
through the small interfaces in :mod:`.ports`.
"""
