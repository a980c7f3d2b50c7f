"""The embedded demo: a generated MIS in the shape universities have, and the wiring that
starts the QuickBooks simulator (the top-level ``qbo_simulator`` package) for it.

May import any layer below ``service``; nothing but the service and the CLI imports it.
"""
