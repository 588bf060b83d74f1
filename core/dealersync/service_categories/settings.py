"""``[service_categories]`` in ``connectors.toml``: the dealer's layers of the categorization.

Validated by pydantic like the rest of the config; the rules themselves (category names, regular
expressions, the overrides file) are checked when :func:`dealersync.service_categories.category_rules`
turns these settings into :class:`~dealersync.service_categories.CategoryRules`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: A category, several, or none: ``"tires"``, ``["tires", "alignment"]``, ``[]`` / ``"none"``.
Categories = str | list[str]


class KeywordRuleSettings(BaseModel):
    """``[service_categories.keywords.<category>]``: the dealer's words for one category."""

    model_config = ConfigDict(extra="forbid")
    match: list[str] = Field(
        default_factory=list,
        description="regular expressions (RE2) on the normalized description that give the category",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="phrases (RE2) removed from the description before match is tested: "
        "'tires? rotat\\w*' keeps 'TIRE ROTATION' out of tires",
    )
    replace: bool = Field(
        False, description="true: match and exclude replace the built-in rule of this category"
    )


class ServiceCategorySettings(BaseModel):
    """``[service_categories]``: every layer of the categorization, extended by the dealer."""

    model_config = ConfigDict(extra="forbid")
    opcodes: dict[str, Categories] = Field(
        default_factory=dict,
        description="exact op code -> category, list of categories, or [] for none (first layer)",
    )
    opcodes_file: str | None = Field(
        None,
        description="a CSV written by 'dealersync opcodes --csv' whose set_category column "
        "holds more exact overrides; relative to this config",
    )
    patterns: dict[str, Categories] = Field(
        default_factory=dict,
        description="op-code pattern ('4TIRE*' glob, or 're:' + RE2) -> categories; the first "
        "matching pattern in file order decides (second layer)",
    )
    keywords: dict[str, KeywordRuleSettings] = Field(
        default_factory=dict,
        description="per category: description keywords added to (or replacing) the built-in ones",
    )
    builtin_keywords: bool = Field(True, description="false: no built-in description keyword rule")
    builtin_opcodes: bool = Field(True, description="false: no built-in exact op code")
    uncategorized_warning: float = Field(
        0.10,
        ge=0.0,
        le=1.0,
        description="the sync warns when uncategorized lines carry more than this share of the "
        "revenue of performed lines",
    )
