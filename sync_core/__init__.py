"""Push MIS applicants and students into QuickBooks Online as Customers.

The folders are the layers; each imports only from the layers listed before it:

- ``domain``: record kinds, mapping, sanitising, names, identity, statuses, errors. Pure.
- ``mis``: the university's MIS as found (inspection, reading, lookups, tracking columns).
- ``quickbooks``: the adapter to QuickBooks Online (HTTP, OAuth, limits, error codes); it
  declares what it needs from storage in ``quickbooks.ports`` and knows no database.
- ``store``: the product's own tables (runs, audit, record state, tokens, locks); it implements
  the QuickBooks ports.
- ``sync``: the engine, as stages: claim -> map -> look before sending -> choose names -> send
  -> write back, and recover.
- ``service``: the use cases the dashboard, the CLI and the API call (one facade).
- ``demo``: the embedded demo (data generator, simulator wiring).
- ``cli`` (``python -m sync_core``) and ``api`` (the REST API of ``serve``): the two entry
  points besides the dashboard; they call the service and turn its answers and errors into
  text, JSON envelopes, exit codes and HTTP statuses.

``settings``, ``defaults`` and ``database`` are shared infrastructure any layer may use.
"""
