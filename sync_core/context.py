"""Everything a CLI command or a dashboard page needs, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from sync_core.database import create_db_engine
from sync_core.demo import ensure_demo_database
from sync_core.mapping import MappingOptions
from sync_core.migrations import MigrationReport, ensure_schema
from sync_core.settings import Settings, load_settings


@dataclass
class SyncContext:
    settings: Settings
    engine: Engine
    migration: MigrationReport = field(default_factory=MigrationReport)

    @property
    def mapping_options(self) -> MappingOptions:
        return MappingOptions(
            custom_field_definitions=dict(self.settings.qbo_custom_fields),
            phone_region=self.settings.phone_region,
        )

    @property
    def is_demo(self) -> bool:
        return self.settings.uses_demo_database or self.settings.uses_simulator

    def close(self) -> None:
        self.engine.dispose()


def open_context(settings: Settings | None = None) -> SyncContext:
    """Settings -> a migrated MIS database (the demo one when MIS_DATABASE_URL is unset)."""
    settings = settings or load_settings()
    if settings.uses_demo_database:
        ensure_demo_database(settings)
    engine = create_db_engine(settings.database_url)
    report = ensure_schema(engine)
    return SyncContext(settings=settings, engine=engine, migration=report)
