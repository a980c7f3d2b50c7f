"""The domain: what an applicant or a student is, how it becomes a QuickBooks Customer
payload, which customer is which record, and the product's states and errors.

Pure: no SQLAlchemy, no HTTP, no clock except :mod:`.clock`. May import only the standard
library, the validation libraries (email-validator, phonenumbers) and ``sync_core.defaults``.
"""
