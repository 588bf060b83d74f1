"""Meta's audience policies, checked before anything is sent.

**Flagged names.** Since 2 September 2025 Meta flags custom and lookalike audiences whose name or
fields "suggest specific health conditions (e.g., "arthritis", "diabetes") or financial status
(e.g., "credit score", "high income")": a flagged audience reports ``operation_status`` code 471,
cannot be used in new campaigns, and uploads to it fail with error 100 / subcode 1713230 until
the restriction is resolved (Marketing API reference, Custom Audience, "Flagged custom and
lookalike audiences", https://developers.facebook.com/docs/marketing-api/reference/custom-audience/,
and its ``usersreplace`` edge). :data:`META_EXAMPLE_TERMS` are exactly the examples Meta
published; Meta does not publish its full list. Dealer words such as *lease*, *payoff*, *equity*,
*finance* or *loan* are **not** in the defaults: Meta has not said they are flagged, and they
describe a deal with the dealer rather than a person's financial status; a dealer who wants to
be stricter adds terms (``flagged_name_terms``) such as "negative equity" or "bad credit".

**Lookalikes and special ad categories.** Ads for financial products and services (credit,
financing, leasing offers) must run in the ``FINANCIAL_PRODUCTS_SERVICES`` special ad category in
the US since January 2025, and campaigns in a special ad category cannot use lookalike audiences
(Marketing API, Special Ad Category,
https://developers.facebook.com/docs/marketing-api/audiences/special-ad-category/; Meta Business
Help 2220749868045706 "About audiences for housing, employment or financial products and services
campaigns": "lookalike audiences ... are limited or unavailable").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: The terms Meta gave as examples of names it flags (Custom Audience reference, Sept 2025 notice).
META_EXAMPLE_TERMS: tuple[str, ...] = ("credit score", "high income", "arthritis", "diabetes")

SPECIAL_AD_CATEGORY_WARNING = (
    "Meta: lookalike audiences cannot be used by campaigns in a special ad category; ads for"
    " financing or lease offers belong to FINANCIAL_PRODUCTS_SERVICES (required in the US since"
    " January 2025), so use this lookalike only for campaigns outside it (service, parts, events)"
)


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[^\W_]+", text.casefold())) + " "


def flagged_term(name: str, terms: Iterable[str]) -> str | None:
    """The first of ``terms`` found in ``name`` as whole words, case and punctuation ignored
    (``"Credit-Score 700+"`` holds ``credit score``; ``"Discredit scores"`` does not)."""
    words = _words(name)
    for term in terms:
        if _words(term).strip() and _words(term) in words:
            return term
    return None


__all__ = ["META_EXAMPLE_TERMS", "SPECIAL_AD_CATEGORY_WARNING", "flagged_term"]
