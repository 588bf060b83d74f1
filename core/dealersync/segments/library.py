"""The core's dealer segment library: the usual dealer segments, thresholds as parameters.

Each template is a params model plus a builder returning a rule tree in its ``connectors.toml``
shape (a dict); ``docs/segments.md`` documents them (a test checks every template and parameter
is there).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dealersync.segments.templates import SegmentTemplate


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _c(fact: str, op: str, value: Any) -> dict[str, Any]:
    return {"fact": fact, "op": op, "value": value}


def _all(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"all": list(parts)}


def _days(default: int, description: str) -> Any:
    return Field(default, ge=0, description=description)


# --------------------------------------------------------------------------- service


class ServiceStatus(_Params):
    status: Literal["loyal", "at_risk", "lost", "never_serviced"] = Field(
        "at_risk",
        description="loyal: last service < loyal_months ago; at_risk: loyal_months <= months"
        " < lost_months; lost: >= lost_months; never_serviced: bought here, never serviced.",
    )
    loyal_months: int = Field(
        12, ge=1, description="Calendar months a visit keeps a customer loyal."
    )
    lost_months: int = Field(24, ge=2, description="Calendar months without a visit that make a"
                             " customer lost.")

    @model_validator(mode="after")
    def _ordered(self) -> ServiceStatus:
        if self.loyal_months >= self.lost_months:
            raise ValueError("loyal_months smaller than lost_months")
        return self


def _service_status(p: ServiceStatus) -> dict[str, Any]:
    months = "months_since_last_service"
    return {
        "loyal": _c(months, "<", p.loyal_months),
        "at_risk": _all(_c(months, ">=", p.loyal_months), _c(months, "<", p.lost_months)),
        "lost": _c(months, ">=", p.lost_months),
        "never_serviced": _all(
            _c("last_service_date", "is_null", True), _c("last_sale_date", "is_null", False)
        ),
    }[p.status]


class ServiceDue(_Params):
    months: int = Field(6, ge=0, description="Due this many calendar months after the last visit"
                        " (0: time does not count).")
    miles: int = Field(5000, ge=0, description="Due once an owned vehicle has driven this many"
                       " estimated miles since its last service (0: miles do not count).")
    max_months: int = Field(24, ge=1, description="Customers last serviced this many months ago or"
                            " more are lost, not due.")

    @model_validator(mode="after")
    def _something(self) -> ServiceDue:
        if not (self.months or self.miles):
            raise ValueError("months or miles (or both) above 0")
        return self


def _service_due(p: ServiceDue) -> dict[str, Any]:
    due = []
    if p.months:
        due.append(_c("months_since_last_service", ">=", p.months))
    if p.miles:
        due.append(_c("miles_since_last_service", ">=", p.miles))
    return _all(_c("months_since_last_service", "<", p.max_months), {"any": due})


class DeclinedWork(_Params):
    category: str | None = Field(None, description="Service category (e.g. brakes; docs/data-model.md);"
                                 " none: any category.")
    min_age_days: int = _days(3, "Declined at least this many days ago.")
    max_age_days: int = _days(90, "Declined at most this many days ago.")

    @model_validator(mode="after")
    def _ordered(self) -> DeclinedWork:
        if self.min_age_days > self.max_age_days:
            raise ValueError("min_age_days <= max_age_days")
        return self


def _declined_work(p: DeclinedWork) -> dict[str, Any]:
    where = {"category": p.category.lower()} if p.category else {}
    return {
        "count": "declined_work",
        "where": where,
        "between_days": [p.min_age_days, p.max_age_days],
    }


class PurchasedCategory(_Params):
    category: str = Field("tires", description="Service category (docs/data-model.md).")
    within_days: int = _days(180, "A performed line of the category in the last N days.")


def _purchased_category(p: PurchasedCategory) -> dict[str, Any]:
    return {
        "count": "purchased_categories",
        "where": {"category": p.category.lower()},
        "within_days": p.within_days,
    }


class ServiceOnly(_Params):
    min_visits: int = Field(1, ge=1, description="At least this many service visits.")
    within_months: int = Field(24, ge=1, description="Last visit less than this many months ago.")


def _service_only(p: ServiceOnly) -> dict[str, Any]:
    return _all(
        _c("service_visits", ">=", p.min_visits),
        _c("months_since_last_service", "<", p.within_months),
        _c("last_sale_date", "is_null", True),
    )


# --------------------------------------------------------------------------- sales


class LeaseEnding(_Params):
    within_days: int = _days(180, "The lease matures between as_of and as_of + N days.")


def _lease_ending(p: LeaseEnding) -> dict[str, Any]:
    return _c("lease_maturity_date", "next_days", p.within_days)


class FinanceUpgrade(_Params):
    ends_within_days: int = _days(365, "The latest loan's term ends within the next N days.")
    include_equity: bool = Field(True, description="Also: loans still running with"
                                 " estimated_equity above min_equity.")
    min_equity: float = Field(0.0, description="Estimated equity above which a running loan"
                              " qualifies.")


def _finance_upgrade(p: FinanceUpgrade) -> dict[str, Any]:
    ending = _c("finance_end_date", "next_days", p.ends_within_days)
    if not p.include_equity:
        return ending
    equity = _all(
        _c("finance_months_remaining", ">", 0), _c("estimated_equity", ">", p.min_equity)
    )
    return {"any": [ending, equity]}


class WarrantyExpiring(_Params):
    within_days: int = _days(90, "An owned vehicle's warranty ends between as_of and as_of + N.")


def _warranty_expiring(p: WarrantyExpiring) -> dict[str, Any]:
    return _c("warranty_end_date", "next_days", p.within_days)


class FrequentBuyers(_Params):
    min_deals: int = Field(2, ge=1, description="At least this many deals (buyer or co-buyer).")
    within_days: int | None = Field(None, ge=0, description="Only deals of the last N days"
                                    " (none: all).")


def _frequent_buyers(p: FrequentBuyers) -> dict[str, Any]:
    tree: dict[str, Any] = {"count": "deals", "op": ">=", "value": p.min_deals}
    if p.within_days is not None:
        tree["within_days"] = p.within_days
    return tree


# --------------------------------------------------------------------------- CRM and engagement

_EMAIL_ACTIONS = {"opened": ["open", "click"], "clicked": ["click"]}


class LowEngagementLeads(_Params):
    inactive_days: int = _days(90, "No email open or click in the last N days.")
    min_lead_age_days: int = _days(30, "The latest lead is more than N days old.")


def _low_engagement_leads(p: LowEngagementLeads) -> dict[str, Any]:
    return _all(
        _c("lifecycle_stage", "=", "lead"),
        _c("last_lead_date", "before_days", p.min_lead_age_days),
        {
            "count": "events",
            "where": {"channel": "email", "type": _EMAIL_ACTIONS["opened"]},
            "within_days": p.inactive_days,
            "op": "=",
            "value": 0,
        },
    )


class LeadSource(_Params):
    source: str = Field("website", description="Source of the latest lead (any case).")


def _lead_source(p: LeadSource) -> dict[str, Any]:
    return _c("lead_source", "=", p.source.strip().lower())


class LifecycleStage(_Params):
    stage: Literal["owner", "service_customer", "lead", "prospect"] = Field(
        "lead", description="The lifecycle_stage fact."
    )


def _lifecycle_stage(p: LifecycleStage) -> dict[str, Any]:
    return _c("lifecycle_stage", "=", p.stage)


class PreferredChannel(_Params):
    channel: Literal["email", "sms", "phone", "mail"] = Field(
        "email", description="The customer's preferred channel."
    )


def _preferred_channel(p: PreferredChannel) -> dict[str, Any]:
    return _c("preferred_channel", "=", p.channel)


class EmailEngaged(_Params):
    action: Literal["opened", "clicked"] = Field(
        "opened", description="opened: an open or a click event (a click implies an open the"
        " tracking pixel may have missed); clicked: a click event."
    )
    within_days: int = _days(30, "In the last N days.")
    min_events: int = Field(1, ge=1, description="At least this many such events.")


def _email_engaged(p: EmailEngaged) -> dict[str, Any]:
    return {
        "count": "events",
        "where": {"channel": "email", "type": _EMAIL_ACTIONS[p.action]},
        "within_days": p.within_days,
        "op": ">=",
        "value": p.min_events,
    }


#: The core library, in documentation order.
LIBRARY: tuple[SegmentTemplate, ...] = (
    SegmentTemplate(
        "service_status",
        "Service lifecycle by calendar months since the last visit: loyal, at_risk, lost, or"
        " never_serviced (bought here, no repair order).",
        ServiceStatus,
        _service_status,
    ),
    SegmentTemplate(
        "service_due",
        "Service due by time since the last visit or by estimated miles driven since it.",
        ServiceDue,
        _service_due,
    ),
    SegmentTemplate(
        "declined_work",
        "Declined or recommended work not done since, by category and by how long ago.",
        DeclinedWork,
        _declined_work,
    ),
    SegmentTemplate(
        "purchased_category",
        "Bought a service category recently: the suppression list for offers on it.",
        PurchasedCategory,
        _purchased_category,
    ),
    SegmentTemplate(
        "lease_ending",
        "Lease maturing within the next N days (as_of included).",
        LeaseEnding,
        _lease_ending,
    ),
    SegmentTemplate(
        "finance_upgrade",
        "Upgrade candidates: the latest loan ends soon, or it runs on with estimated equity.",
        FinanceUpgrade,
        _finance_upgrade,
    ),
    SegmentTemplate(
        "warranty_expiring",
        "An owned vehicle's warranty ends within the next N days.",
        WarrantyExpiring,
        _warranty_expiring,
    ),
    SegmentTemplate(
        "service_only",
        "Service-only customers: serviced here recently, never bought here (bought elsewhere).",
        ServiceOnly,
        _service_only,
    ),
    SegmentTemplate(
        "frequent_buyers",
        "Customers with several deals (as buyer or co-buyer).",
        FrequentBuyers,
        _frequent_buyers,
    ),
    SegmentTemplate(
        "low_engagement_leads",
        "Leads who never bought or serviced here and ignore email: no open or click lately.",
        LowEngagementLeads,
        _low_engagement_leads,
    ),
    SegmentTemplate("lead_source", "The latest lead came from this source.", LeadSource,
                    _lead_source),
    SegmentTemplate(
        "lifecycle_stage", "Customers at one lifecycle stage.", LifecycleStage, _lifecycle_stage
    ),
    SegmentTemplate(
        "preferred_channel",
        "Customers who prefer this contact channel.",
        PreferredChannel,
        _preferred_channel,
    ),
    SegmentTemplate(
        "email_engaged",
        "Opened (or clicked) email within the last N days.",
        EmailEngaged,
        _email_engaged,
    ),
)
