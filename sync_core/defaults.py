"""Every default the product runs with, in one place. Settings override the configurable ones."""

from __future__ import annotations

# QuickBooks' per-company limits (shared/spec/quickbooks-api.md, Throttling).
REQUESTS_PER_MINUTE = 500
BATCH_REQUESTS_PER_MINUTE = 40
MAX_CONCURRENT = 10
MAX_BATCH_ITEMS = 30
# QuickBooks' 500 include the 40 batch requests; a run spends the other 460 on its look-ups and
# on single creates/updates. Singles leave this share of the 460 to the look-ups, so that the
# look-ups feeding the batches are never crowded out (sync_core.quickbooks.limiter).
SPARE_LEAVES_FOR_LOOKUPS = 0.1
# QuickBooks counts "per minute" over 60 s. Only tests and demos shrink it (on the client and
# on the embedded simulator alike) to show pacing without waiting minutes.
LIMIT_WINDOW_S = 60.0
# The client counts its limits over a window this much longer than QuickBooks' 60 s, so that
# network delay can never push a 61st-second request into QuickBooks' window: 0 x 429.
LIMIT_WINDOW_MARGIN_S = 1.0

MINOR_VERSION = 75
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
OAUTH_HTTP_TIMEOUT_S = 15.0
TOKEN_REFRESH_MARGIN_S = 60  # refresh an access token this long before it expires
OAUTH_STATE_TTL_S = 15 * 60  # an authorisation not answered within this is refused

PHONE_REGION = "RW"
PUSHED_BY = "System Auto Push"  # the MIS's own default for pushed_by

# Records claimed and written back per step of a run (the seed's batch_size).
BATCH_SIZE = 50
RECOMMENDED_BATCH_SIZES = (10, 50, 100)
MAX_BATCH_SIZE = 500

# What an enrolled applicant's student record becomes in QuickBooks (SYNC_STUDENT_CUSTOMER):
# "separate" (a customer of its own) or "continue" (the applicant's customer carries on).
STUDENT_CUSTOMER = "separate"
# Reads are metered: customers are read 1,000 per query (QuickBooks' most), and updates go
# 30 to a batch request like creates.
READ_PAGE = 1000

PREVIEW_LIMIT = 10
PREVIEW_MAX_LIMIT = 100
SEARCH_LIMIT = 50

PROGRESS_INTERVAL_S = 1.0  # how often a run publishes progress and its heartbeat
RUN_STALE_AFTER_S = 180  # a run lock whose heartbeat is older than this is taken over
