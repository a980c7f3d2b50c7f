"""The MIS as found: inspecting the university's live tables, reading records a page at a time
with their lookups, finding records, and the tracking columns (status, QuickBooks Id, who and
when) sync writes there.

May import ``domain`` and the shared infrastructure; knows nothing of QuickBooks or our store.
"""
