"""Setup the tests share (fixtures live in ``tests/conftest.py``; plain helpers here, imported as
``from tests.support.configs import ...``): connectors.toml snippets, warehouse queries, local
HTTP servers and dealersync processes."""
