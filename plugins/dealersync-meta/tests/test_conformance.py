"""The ``meta`` connector through the plugin author kit, against the stateful Meta fake."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from dealersync.testing import DestinationConformance, KitSession
from dealersync_meta import MetaCustomAudiences
from meta_fake import ACCOUNT, TOKEN, FakeMeta


class TestMetaConformance(DestinationConformance):
    connector = MetaCustomAudiences
    config: ClassVar[dict[str, Any]] = {"ad_account_id": ACCOUNT, "access_token": TOKEN}
    platform = FakeMeta

    def platform_paths(self) -> Mapping[str, Any]:
        """Meta's own calls, under the kit's leak and size checks: a replace session
        (``usersreplace``) and a lookalike seeded from the audience."""
        return {
            "replace": lambda s, members: s.send("replace", members),
            "lookalike": _lookalike,
        }

    def test_rejected_members_are_reported_one_by_one(self, dealersync_context: Any) -> None:
        """Meta does not say which rows were invalid, only how many: the honest outcome is
        'accepted' for every member of an accepted request, with the invalid count in
        platform_counts (the kit's per-member check does not apply; this replaces it)."""
        with self.people() as people:
            members = people.members(6)
        bad = members[1]
        with self.session(dealersync_context) as s:
            s.platform.reject_values = {bad["email"]}
            outcomes = s.send("add", members)
            remote = s.remote()
        assert sorted(o.member_key for o in outcomes) == sorted(m["member_key"] for m in members)
        assert all(o.accepted for o in outcomes)
        assert s.dest.platform_counts()["num_invalid_entries"] == 1
        assert s.dest.platform_counts()["num_received"] == 6
        assert len(remote) == 5


def _lookalike(s: KitSession, members: list[dict[str, Any]]) -> object:
    return s.dest.create_lookalike(s.audience, country="US", ratio=0.05)  # type: ignore[attr-defined]
