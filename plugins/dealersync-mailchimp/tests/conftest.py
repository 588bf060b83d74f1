"""Makes the Mailchimp fake importable as ``dealersync_mailchimp_fake`` (tests run with --import-mode=importlib)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "dealersync_mailchimp_fake" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("dealersync_mailchimp_fake", Path(__file__).with_name("mailchimp_fake.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["dealersync_mailchimp_fake"] = _module
    _spec.loader.exec_module(_module)
