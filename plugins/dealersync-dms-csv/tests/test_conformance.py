"""dms-csv through the plugin author kit: the same checks a vendor's source must pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dealersync.testing import SourceConformance, write_extract
from dealersync_dms_csv import DmsCsvSource


class TestDmsCsvConformance(SourceConformance):
    connector = DmsCsvSource

    def make_config(self, base_dir: Path) -> dict[str, Any]:
        write_extract(
            base_dir / "extract",
            {
                "customers": [
                    {"customer_id": "C1", "first_name": "José", "last_name": "O'Brien", "email": "jose@example.com"},
                    {"customer_id": "C2", "first_name": "Ann", "updated_at": "2026-01-02T10:00:00"},
                ],
                "vehicles": [{"vehicle_id": "V1", "customer_id": "C1", "vin": "1HGCM82633A004352", "year": 2019}],
            },
        )
        return {"path": "extract"}
