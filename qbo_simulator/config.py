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


@dataclass
class SimulatorConfig:
    realm_id: str = "9341455555555555"
    client_id: str = "simulator-client-id"
    client_secret: str = "simulator-client-secret"
    company_name: str = "University Sandbox Company"
    access_token_lifetime_s: int = 3600
    refresh_token_lifetime_s: int = 8726400
    requests_per_minute: int = 500
    max_concurrent: int = 10
    batch_requests_per_minute: int = 40
    max_batch_items: int = 30
    max_query_results: int = 1000
    throttling: bool = True
    # QuickBooks counts its per-minute limits over 60 s; tests may shrink the window (on both
    # the simulator and the client's limiter) to prove the pacing without waiting minutes.
    limit_window_s: float = 60.0
    # DisplayName -> entity type ("Vendor" / "Employee"); a plain list of names means vendors.
    reserved_names: Mapping[str, str] | Sequence[str] = field(
        default_factory=lambda: dict(DEFAULT_RESERVED_NAMES)
    )
    # Custom Fields API legacyIDV2 -> field name, as if defined in the company.
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
    seed: int | None = None
