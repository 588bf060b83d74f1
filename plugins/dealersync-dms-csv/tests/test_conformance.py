"""dms-csv through the plugin author kit: the same checks a vendor's source must pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

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
        return {"dir": "extract"}

    #: customers.csv below, as an editor numbers its lines: 3 has no customer id; the record on
    #: lines 4-5 (a quoted note with a line break) has a date that is no date and is named by its
    #: first line, as the loader names every record; 7 has a column too many.
    malformed_lines: ClassVar[dict[str, list[int]]] = {"customers.csv": [3, 4, 7]}

    def make_malformed_config(self, base_dir: Path) -> dict[str, Any]:
        extract = base_dir / "malformed"
        extract.mkdir()
        (extract / "customers.csv").write_text(
            "customer_id,first_name,email,notes,updated_at\n"
            "C1,Ann,ann@example.com,,2026-01-02T10:00:00\n"
            ",Ben,ben@example.com,,2026-01-02T10:00:00\n"
            'C3,Cal,cal@example.com,"called twice\n'
            'no answer",yesterday at noon\n'
            "C4,Dee,dee@example.com,,2026-01-03T09:00:00\n"
            "C5,Eve,eve@example.com,,2026-01-04T09:00:00,extra\n"
            "C6,Fay,fay@example.com,,\n",
            encoding="utf-8",
        )
        return {"dir": "malformed"}
