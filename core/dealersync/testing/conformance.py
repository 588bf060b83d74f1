"""What every connector must satisfy, whatever its kind: name, config, secrets, discovery.

:class:`ConnectorConformance` is the base of :class:`~dealersync.testing.SourceConformance` and
:class:`~dealersync.testing.DestinationConformance`. A vendor's test class names the connector
and a sample config; HTTP connectors add their mocks (``mocks()``) or a fake platform
(``platform``). The fixtures used here come from the kit's pytest plugin
(:mod:`dealersync.testing.pytest_plugin`), loaded through the ``pytest11`` entry point.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar

import pydantic
import pytest
import responses

from dealersync.config import validate
from dealersync.connectors import CONNECTOR_NAME, Connector, ConnectorContext
from dealersync.errors import (
    AuthError,
    ConfigError,
    DealersyncError,
    PluginError,
    TransientError,
)
from dealersync.plugins import load_plugins
from dealersync.testing.fakes import FakePlatform
from dealersync.testing.mocks import every_request_answered, strict_http
from dealersync.testing.plugin_api import check_declared_api

#: Words that make a config field a secret (matched against the ``_``-separated parts of its name).
SECRET_WORDS = frozenset({"token", "secret", "password", "key", "apikey", "credential", "credentials"})
#: A value the secret checks put into secret fields; it must never show in an error.
SECRET_SENTINEL = "kit-s3cret-sentinel-7f3a9c"


def looks_secret(field_name: str) -> bool:
    return any(part in SECRET_WORDS for part in field_name.lower().split("_"))


def is_secret_annotation(annotation: Any) -> bool:
    """``SecretStr``, optionally inside ``Optional``/a union."""
    if annotation is pydantic.SecretStr:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(is_secret_annotation(a) for a in typing.get_args(annotation))
    return False


class ConnectorConformance:
    """Static checks shared by every connector. Subclass a kind-specific suite, not this."""

    #: The connector class under test.
    connector: ClassVar[type[Connector]]
    #: A sample config that validates (secrets as plain strings: core would resolve them).
    config: ClassVar[Mapping[str, Any]] = {}
    #: A fake of the platform (HTTP connectors), instantiated afresh for each test.
    platform: ClassVar[type[FakePlatform] | None] = None
    #: The plugin (module or object with the ``dealersync_register_*`` hooks) of a connector
    #: that is not installed as a distribution: an example or a test fixture. Discovery is then
    #: checked through it; leave it ``None`` for a published plugin (its entry point is checked).
    plugin: ClassVar[object | None] = None

    @pytest.fixture(autouse=True)
    def _no_waiting(self, dealersync_waits: list[float]) -> None:
        """Retries in every check go without sleeping (the waits are recorded instead)."""

    # ---------------------------------------------------------------------- vendor hooks
    def make_config(self, base_dir: Path) -> dict[str, Any]:
        """The sample config for a test whose files live in ``base_dir`` (override to write some)."""
        return dict(self.config)

    def mocks(self, rsps: responses.RequestsMock) -> None:
        """Register the HTTP mocks the connector's requests need (static answers).

        Mocks are strict: a request nothing mocks, or a mock no request uses, fails the test.
        Leave this alone for a connector that makes no requests, or that uses ``platform``.
        """

    # --------------------------------------------------------------------------- helpers
    @property
    def is_http(self) -> bool:
        return self.platform is not None or type(self).mocks is not ConnectorConformance.mocks

    def build(self, context: ConnectorContext) -> Connector:
        """The connector built the way core builds it: config validated, then instantiated."""
        where = f"{self.connector.kind}s.{context.instance}"
        cfg = validate(self.make_config(context.base_dir), self.connector.Config, prefix=where)
        return self.connector(cfg, context)

    def http(self, platform: FakePlatform | None = None) -> AbstractContextManager[responses.RequestsMock]:
        """Strict mocks for one test: the vendor's ``mocks()`` and the fake ``platform``'s routes."""
        return strict_http(self.mocks, platform)

    def new_platform(self) -> FakePlatform | None:
        return self.platform() if self.platform is not None else None

    def secrets_in(self, base_dir: Path) -> list[str]:
        """The sample config's secret values (never allowed in a message)."""
        return list(self.secret_values(base_dir).values())

    def secret_values(self, base_dir: Path) -> dict[str, str]:
        """The sample config's secrets by field name: the credentials the kit gives the connector,
        planted by the leak checks."""
        raw = self.make_config(base_dir)
        return {name: str(raw[name]) for name in self._secret_fields() if raw.get(name)}

    def _secret_fields(self) -> list[str]:
        fields = self.connector.Config.model_fields
        return [n for n, f in fields.items() if is_secret_annotation(f.annotation) or looks_secret(n)]

    def _skip_unless_http(self) -> None:
        if not self.is_http:
            pytest.skip(f"{self.connector.__name__} makes no HTTP requests (no mocks() or platform)")

    def _assert_no_secret(self, text: str, base_dir: Path) -> None:
        for secret in [SECRET_SENTINEL, *self.secrets_in(base_dir)]:
            assert secret not in text, f"a secret value appears in an error message: {text!r}"

    def exercise(self, connector: Connector) -> None:
        """Make the connector talk to its platform (a source reads, a destination sends)."""
        raise NotImplementedError

    # -------------------------------------------------------------------- static checks
    def test_name_is_valid(self) -> None:
        name = getattr(self.connector, "name", None)
        assert isinstance(name, str) and CONNECTOR_NAME.match(name), (
            f"{self.connector.__name__}.name must be lowercase words joined by '-' (e.g. 'acme-crm'),"
            f" got {name!r}"
        )

    def test_config_forbids_unknown_keys(self, dealersync_context: ConnectorContext) -> None:
        Config = self.connector.Config
        assert Config.model_config.get("extra") == "forbid", (
            f"{self.connector.__name__}.Config must forbid unknown keys: subclass dealersync.ConnectorConfig"
        )
        raw = {**self.make_config(dealersync_context.base_dir), "kit_unknown_key": 1}
        with pytest.raises(ConfigError, match="kit_unknown_key: unknown key"):
            validate(raw, Config, prefix="kit")

    def test_config_fields_are_described(self) -> None:
        bare = [n for n, f in self.connector.Config.model_fields.items() if not (f.description or "").strip()]
        assert not bare, f"Config fields without a description: {bare}; use Field(description=...)"

    def test_secrets_are_secretstr(self) -> None:
        fields = self.connector.Config.model_fields
        plain = [n for n, f in fields.items() if looks_secret(n) and not is_secret_annotation(f.annotation)]
        assert not plain, (
            f"Config fields {plain} look secret but are not pydantic.SecretStr: a SecretStr is"
            " never printed, logged or echoed in an error"
        )

    def test_config_json_schema_is_valid(self) -> None:
        schema = self.connector.Config.model_json_schema()
        check_json_schema(schema)
        props = schema.get("properties", {})
        assert set(props) == set(self.connector.Config.model_fields), "schema properties != Config fields"

    def test_config_error_never_echoes_a_secret(self, dealersync_context: ConnectorContext) -> None:
        names = self._secret_fields()
        if not names:
            pytest.skip("the Config has no secret field")
        base = self.make_config(dealersync_context.base_dir)
        attempts = []
        for name in names:
            attempts += [
                {**base, name: SECRET_SENTINEL, "kit_unknown_key": 1},  # another key is wrong
                {**base, name: [SECRET_SENTINEL]},  # wrong type
                {**base, name: SECRET_SENTINEL},  # the config's own validators see the value
            ]
        for raw in attempts:
            try:
                validate(raw, self.connector.Config, prefix=f"{self.connector.kind}s.kit")
            except ConfigError as exc:
                self._assert_no_secret(exc.message, dealersync_context.base_dir)
                self._assert_no_secret(str(exc), dealersync_context.base_dir)

    def test_declares_the_plugin_api(self) -> None:
        """The plugin says which plugin API versions it supports (``DEALERSYNC_API``), this kit's
        (``KIT_API_VERSION``) among them."""
        check_declared_api(self.connector)

    def test_discoverable_through_entry_point(self) -> None:
        registry = load_plugins([self.plugin] if self.plugin is not None else [])
        try:
            info = registry.connector(self.connector.name, self.connector.kind, "conformance")
        except PluginError as exc:
            pytest.fail(
                f"{exc.message}\nThe connector must be registered by an installed plugin: declare"
                f' [project.entry-points.dealersync] NAME = "your_module" in pyproject.toml, return'
                f" the class from dealersync_register_{self.connector.kind}s, and run `pip install -e .`"
            )
        found = f"{info.cls.__module__}.{info.cls.__qualname__}"
        wanted = f"{self.connector.__module__}.{self.connector.__qualname__}"
        assert found == wanted, f"the entry point registers {found} as '{self.connector.name}', not {wanted}"

    # ----------------------------------------------------------------------- HTTP checks
    def test_refused_credential_is_auth_error(self, dealersync_context: ConnectorContext) -> None:
        self._skip_unless_http()
        connector = self.build(dealersync_context)
        for status in (401, 403):
            with every_request_answered(status) as rsps:
                with pytest.raises(DealersyncError) as caught:
                    connector.check()
                    self.exercise(connector)
                assert rsps.calls, "no request was made"
            assert isinstance(caught.value, AuthError), (
                f"HTTP {status} raised {type(caught.value).__name__}, expected AuthError: map 401/403"
                " to AuthError (core http does by default) with a message saying how to fix the credential"
            )
            self._assert_no_secret(caught.value.message, dealersync_context.base_dir)

    def test_unavailable_is_retried_then_transient(
        self, dealersync_context: ConnectorContext, dealersync_waits: list[float]
    ) -> None:
        self._skip_unless_http()
        connector = self.build(dealersync_context)
        with every_request_answered(503) as rsps:
            with pytest.raises(DealersyncError) as caught:
                connector.check()
                self.exercise(connector)
            attempts = len(rsps.calls)
        assert isinstance(caught.value, TransientError), (
            f"HTTP 503 raised {type(caught.value).__name__}, expected TransientError"
        )
        assert attempts > 1 and dealersync_waits, (
            "a 503 was not retried: send requests through dealersync.http.HttpSession"
        )
        self._assert_no_secret(caught.value.message, dealersync_context.base_dir)


def check_json_schema(schema: Mapping[str, Any]) -> None:
    """Validate a JSON schema with ``jsonschema`` when installed, else check its structure."""
    try:
        import jsonschema
    except ImportError:
        _check_structure(schema, "#")
        return
    jsonschema.Draft202012Validator.check_schema(schema)


_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


def _check_structure(node: Any, where: str) -> None:
    assert isinstance(node, Mapping), f"{where}: a schema must be an object"
    t = node.get("type")
    for one in t if isinstance(t, list) else [t] if t else []:
        assert one in _TYPES, f"{where}: unknown type {one!r}"
    for key in ("properties", "$defs"):
        sub = node.get(key, {})
        assert isinstance(sub, Mapping), f"{where}.{key}: must be an object"
        for name, child in sub.items():
            _check_structure(child, f"{where}.{key}.{name}")
    for key in ("anyOf", "oneOf", "allOf"):
        for i, child in enumerate(node.get(key, [])):
            _check_structure(child, f"{where}.{key}[{i}]")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), Mapping):
            _check_structure(node[key], f"{where}.{key}")
    req = node.get("required", [])
    assert isinstance(req, list) and all(isinstance(r, str) for r in req), f"{where}.required: a list of names"
    ref = node.get("$ref")
    assert ref is None or (isinstance(ref, str) and ref.startswith("#")), f"{where}.$ref: a local reference"

