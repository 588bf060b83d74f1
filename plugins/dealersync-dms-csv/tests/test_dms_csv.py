"""The dms-csv source plugin, through the public dealersync API only."""

from __future__ import annotations

import ast
import datetime as dt
import importlib.metadata
from pathlib import Path

import dealersync
import dealersync_dms_csv
import pydantic
import pytest
from dealersync import ConfigError, ConnectorContext, ExtractFile
from dealersync_dms_csv import DmsCsvSource

PACKAGE_DIR = Path(dealersync_dms_csv.__file__).parent


def make(tmp_path: Path, **config) -> DmsCsvSource:
    if "path" not in config:  # `path`: the old name of `dir`, still read
        config.setdefault("dir", "extract")
    ctx = ConnectorContext(
        instance="store_dms",
        base_dir=tmp_path,
        as_of=dt.date(2026, 11, 23),
        out_dir=tmp_path / "out",
    )
    return DmsCsvSource(DmsCsvSource.Config(**config), ctx)


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    d = tmp_path / "extract"
    d.mkdir()
    (d / "customers.csv").write_text("customer_id,first_name\nC1,Ann\n")
    (d / "vehicles.csv").write_text("vehicle_id,customer_id\nV1,C1\n")
    (d / "events.csv").write_text("event_id,customer_id\nE1,C1\n")
    return d


def test_registered_through_the_entry_point():
    dist = importlib.metadata.distribution("dealersync-dms-csv")
    eps = [ep for ep in dist.entry_points if ep.group == "dealersync"]
    assert [(ep.name, ep.value) for ep in eps] == [("dms-csv", "dealersync_dms_csv")]
    module = eps[0].load()
    assert module.dealersync_register_sources() == [DmsCsvSource]
    assert issubclass(DmsCsvSource, dealersync.Source)
    assert DmsCsvSource.name == "dms-csv"


def test_config_fields_are_described_and_unknown_keys_forbidden():
    for name, field in DmsCsvSource.Config.model_fields.items():
        assert field.description, name
    assert set(DmsCsvSource.Config.model_fields) >= {
        "dir", "files", "columns", "delimiter", "date_format", "timestamp_format"
    }  # fmt: skip
    with pytest.raises(pydantic.ValidationError, match="pth"):
        DmsCsvSource.Config(pth="x")
    with pytest.raises(pydantic.ValidationError, match="unknown table widgets"):
        DmsCsvSource.Config(path="x", files={"widgets": "w.csv"})
    with pytest.raises(
        pydantic.ValidationError, match="customers: unknown column shoe_size"
    ):
        DmsCsvSource.Config(path="x", columns={"customers": {"shoe_size": "Shoe"}})
    with pytest.raises(pydantic.ValidationError, match="one character"):
        DmsCsvSource.Config(path="x", delimiter="||")


def test_streams_are_the_tables_whose_file_exists(tmp_path, extract):
    src = make(tmp_path)
    src.check()
    assert src.streams() == ["customers", "vehicles", "events"]


def test_read_yields_one_extract_file_with_the_layout(tmp_path, extract):
    (extract / "CUST.TXT").write_text("CustNo|E-Mail\n1|a@example.com\n")
    src = make(
        tmp_path,
        files={"customers": "CUST.TXT"},
        columns={"customers": {"customer_id": "CustNo", "email": "E-Mail"}},
        delimiter="|",
        date_format="%m/%d/%Y",
        timestamp_format="%m/%d/%Y %H:%M",
    )
    batches = list(src.read("customers", None))
    assert batches == [
        ExtractFile(
            path=extract / "CUST.TXT",
            table="customers",
            columns={"customer_id": "CustNo", "email": "E-Mail"},
            delimiter="|",
            date_format="%m/%d/%Y",
            timestamp_format="%m/%d/%Y %H:%M",
        )
    ]
    assert next(iter(src.read("vehicles", None))).path == extract / "vehicles.csv"


def test_absolute_path_is_kept(tmp_path, extract):
    src = make(tmp_path / "elsewhere", path=str(extract))
    assert src.streams()[0] == "customers"


def test_path_is_the_old_name_of_dir(tmp_path, extract):
    old, new = make(tmp_path, path="extract"), make(tmp_path, dir="extract")
    assert old.config == new.config and old.directory == extract
    with pytest.raises(pydantic.ValidationError) as e:  # both: the old name is then an unknown key
        DmsCsvSource.Config.model_validate({"dir": "extract", "path": "extract"})
    assert [(err["loc"], err["type"]) for err in e.value.errors()] == [(("path",), "extra_forbidden")]


def test_check_missing_directory(tmp_path):
    src = make(tmp_path, dir="nope")
    with pytest.raises(ConfigError) as e:
        src.check_config()
    assert e.value.message == (
        f"sources.store_dms.dir: found 'nope', expected the extract directory ({tmp_path / 'nope'} does not exist)"
    )
    with pytest.raises(ConfigError):
        src.streams()


def test_check_missing_customers_file(tmp_path, extract):
    (extract / "customers.csv").unlink()
    with pytest.raises(ConfigError) as e:
        make(tmp_path).check_config()
    assert e.value.message == (
        f"sources.store_dms.dir: the customers file {extract / 'customers.csv'} does not exist;"
        ' if the extract names it differently, set files.customers = "<file name>"'
    )
    with pytest.raises(ConfigError) as e:
        make(tmp_path, files={"customers": "CUST.TXT"}).check_config()
    assert e.value.message == (
        f"sources.store_dms.files.customers: the customers file {extract / 'CUST.TXT'} does not exist"
    )


def test_check_names_the_key_of_each_layout_problem(tmp_path, extract):
    (extract / "deals.csv").write_text('Title\n"a\nb",x\ndeal_id\nD1\n')  # line 3 inside a quote
    (extract / "leads.csv").write_text("")  # unreadable: the load's outcome, not the config's
    config = {
        "tables": {"vehicles": {"file": "vehicles.csv", "columns": {"vin": "VIN"}},
                   "deals": {"skip_rows": 2}},
        "columns": {"customers": {"email": "E-Mail"}},
    }
    with pytest.raises(ConfigError) as e:
        make(tmp_path, **config).check_config()
    keys = [m.split(": ")[0] for m in e.value.messages]
    assert keys == [
        "sources.store_dms.columns.customers.email",
        "sources.store_dms.tables.vehicles.columns.vin",
        "sources.store_dms.tables.deals.skip_rows",
    ]  # in the tables' load order
    assert e.value.messages[0] == (
        f"sources.store_dms.columns.customers.email: {extract / 'customers.csv'}: the header has no column"
        " 'E-Mail', which the `columns` option maps to 'email'"
    )
    (extract / "vehicles.csv").write_text("VIN,customer_id\nX,C1\n")  # no vehicle_id either
    with pytest.raises(ConfigError) as e:
        make(tmp_path, tables={"vehicles": {"file": "vehicles.csv"}}).check_config()
    assert [m.split(": ")[0] for m in e.value.messages] == ["sources.store_dms.tables.vehicles.file"]


def test_imports_only_the_public_dealersync_api():
    public = set(dealersync.__all__)
    modules = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(modules) >= 2, PACKAGE_DIR  # a moved package would pass with nothing read
    for path in modules:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("dealersync")
            ):
                if node.module.startswith("dealersync_dms_csv"):
                    continue
                assert node.module == "dealersync", f"{path.name} imports {node.module}"
                for alias in node.names:
                    assert alias.name in public, f"{path.name} imports {alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("dealersync."), (
                        f"{path.name}: {alias.name}"
                    )


def test_per_table_options_override_the_source_wide_ones(tmp_path, extract):
    (extract / "DEALS.TXT").write_text("DealNo|customer_id\nD1|C1\n")
    src = make(
        tmp_path,
        encoding="cp1252",
        date_format="%m/%d/%Y",
        skip_rows=1,
        columns={"customers": {"email": "E-Mail"}},
        tables={
            "deals": {
                "file": "DEALS.TXT",
                "columns": {"deal_id": "DealNo"},
                "delimiter": "|",
                "encoding": "utf-16",
                "skip_rows": 0,
                "date_format": "%d.%m.%Y",
            },
            "vehicles": {"timestamp_format": "%m/%d/%Y %H:%M"},
        },
    )
    assert src.streams() == ["customers", "vehicles", "deals", "events"]
    (deals,) = src.read("deals", None)
    assert deals == ExtractFile(
        path=extract / "DEALS.TXT",
        table="deals",
        columns={"deal_id": "DealNo"},
        delimiter="|",
        date_format="%d.%m.%Y",
        encoding="utf-16",
        skip_rows=0,
    )
    (vehicles,) = src.read("vehicles", None)
    assert (vehicles.encoding, vehicles.date_format, vehicles.skip_rows) == (
        "cp1252", "%m/%d/%Y", 1
    )  # fmt: skip
    assert vehicles.timestamp_format == "%m/%d/%Y %H:%M"
    (customers,) = src.read("customers", None)
    assert customers.columns == {"email": "E-Mail"}
    assert customers.delimiter == ","


def test_per_table_options_are_checked():
    with pytest.raises(pydantic.ValidationError, match="unknown table widgets"):
        DmsCsvSource.Config(path="x", tables={"widgets": {"file": "w.csv"}})
    with pytest.raises(pydantic.ValidationError, match="deals: unknown column shoe"):
        DmsCsvSource.Config(path="x", tables={"deals": {"columns": {"shoe": "S"}}})
    with pytest.raises(pydantic.ValidationError, match="both set; keep one"):
        DmsCsvSource.Config(
            path="x", files={"deals": "a.csv"}, tables={"deals": {"file": "b.csv"}}
        )
    with pytest.raises(pydantic.ValidationError, match="not a known text encoding"):
        DmsCsvSource.Config(path="x", tables={"deals": {"encoding": "klingon"}})
    with pytest.raises(pydantic.ValidationError, match="not a known text encoding"):
        DmsCsvSource.Config(path="x", encoding="rot13")  # a codec, not a text encoding
    with pytest.raises(pydantic.ValidationError, match="one character"):
        DmsCsvSource.Config(path="x", tables={"deals": {"delimiter": "||"}})
    with pytest.raises(pydantic.ValidationError, match="skip_rows"):
        DmsCsvSource.Config(path="x", skip_rows=-1)
    with pytest.raises(pydantic.ValidationError, match="shoe"):
        DmsCsvSource.Config(path="x", tables={"deals": {"shoe": 1}})


def test_values_and_decimal_separator_reach_the_extract_file(tmp_path, extract):
    """Source-wide `values` per table, added to and overridden by tables.<table>.values."""
    (extract / "ro_lines.csv").write_text("ro_id,line_no,status\nR1,1,WIP\n")
    src = make(
        tmp_path,
        values={"ro_lines": {"status": {"WIP": "recommended", "X": "declined"}}},
        decimal_separator=",",
        tables={
            "ro_lines": {"values": {"status": {"X": "performed", "Z": "declined"}}},
            "customers": {"decimal_separator": "."},
        },
    )
    lines = next(iter(src.read("ro_lines", None)))
    assert lines.values == {
        "status": {"WIP": "recommended", "X": "performed", "Z": "declined"}
    }
    assert lines.decimal_separator == ","
    customers = next(iter(src.read("customers", None)))
    assert customers.values == {} and customers.decimal_separator == "."
    assert next(iter(make(tmp_path).read("customers", None))).decimal_separator == "."


@pytest.mark.parametrize(
    "config,message",
    [
        ({"values": {"ro_lines": {"status": {"X": "done"}}}}, "'X' maps to 'done', not one of"),
        ({"values": {"ro_lines": {"op_code": {"X": "tires"}}}}, "op_code is not an enumerated"),
        ({"values": {"widgets": {}}}, "unknown table widgets"),
        ({"tables": {"deals": {"values": {"deal_type": {"R": "retail"}}}}}, "'R' maps to"),
        ({"decimal_separator": ";"}, "decimal_separator"),
    ],
)
def test_values_and_decimal_separator_are_checked(config, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        DmsCsvSource.Config(path="x", **config)
