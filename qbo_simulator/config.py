"""Configuration of the simulated company and of the faults it injects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_RESERVED_NAMES: dict[str, str] = {
    "Kigali Office Supplies Ltd": "Vendor",
    "Rwanda Energy Group": "Vendor",
    "MTN Rwanda": "Vendor",
    "Jean Claude Habimana": "Employee",
    "Marie Claire Uwimana": "Employee",
}
DOWN_MODES = ("503", "drop")


@dataclass
class SimulatorConfig:
    realm_id: str = "9341455555555555"
    client_id: str = "simulator-client-id"
    client_secret: str = "simulator-client-secret"
    company_name: str = "University Sandbox Company"
    access_token_lifetime_s: int = 3600
    # A refresh token lives this long from its last use (Intuit answers 8726400, ~101 days) ...
    refresh_token_lifetime_s: float = 8726400
    # ... and never beyond this long after the first authorisation (five years).
    refresh_token_hard_lifetime_s: float = 5 * 365 * 86400
    # A refresh answers a new refresh token only once the presented one is this old; before
    # that it answers the same one (its expiry rolled forward). Intuit's FAQ: the value changes
    # about every 24 hours. 0 rotates on every refresh, the strictest reading of the spec.
    refresh_token_rotation_s: float = 0
    # Newer token answers carry x_refresh_token_hard_expires_in; False mimics older ones.
    report_refresh_token_hard_expiry: bool = True
    requests_per_minute: int = 500
    max_concurrent: int = 10
    batch_requests_per_minute: int = 40
    max_batch_items: int = 30
    max_query_results: int = 1000
    throttling: bool = True
    # QuickBooks counts its per-minute limits over 60 s; tests may shrink the window (on both
    # the simulator and the client's limiter) to prove the pacing without waiting minutes.
    limit_window_s: float = 60.0
    # 429 answers: a Retry-After header (seconds; None = none, as QBO promises none) and the
    # XML body QBO sometimes sends instead of JSON. Faults can switch either on at run time.
    retry_after_s: float | None = None
    xml_throttle_body: bool = False
    # include=enhancedAllCustomFields takes effect only from this minorversion on.
    custom_fields_min_minorversion: int = 70
    # DisplayName -> entity type ("Vendor" / "Employee"); a plain list of names means vendors.
    reserved_names: Mapping[str, str] | Sequence[str] = field(
        default_factory=lambda: dict(DEFAULT_RESERVED_NAMES)
    )
    # Custom Fields API legacyIDV2 -> field name, as if defined in the company. Loading customers
    # that carry CustomField entries adds their definitions here.
    custom_field_definitions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.reserved_names, Mapping):
            self.reserved_names = {name: "Vendor" for name in self.reserved_names}
        self.custom_field_definitions = {
            str(k): v for k, v in dict(self.custom_field_definitions).items()
        }


@dataclass
class Faults:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    server_error_rate: float = 0.0
    drop_after_commit_rate: float = 0.0
    throttle_storm: bool = False
    throttle_storm_every_s: float | None = None
    throttle_storm_duration_s: float | None = None
    access_token_ttl_s: float | None = None
    # 429 answer shape, on top of SimulatorConfig's (either one switches it on).
    retry_after_s: float | None = None
    xml_throttle_body: bool = False
    # Outages: the whole /v3 API, or the OAuth token and revocation endpoints, answer as
    # `down_mode` says: "503" (Service Unavailable) or "drop" (connection closed, no answer).
    api_down: bool = False
    token_endpoint_down: bool = False
    down_mode: str = "503"
    # QuickBooks' query parser chokes on some names: a query containing this text is refused
    # (400, code 4000), as an odd character in a real name can make it
    refuse_query_containing: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.down_mode not in DOWN_MODES:
            raise ValueError(f"down_mode must be one of {DOWN_MODES}, not {self.down_mode!r}")
