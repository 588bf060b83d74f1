"""The built-in keyword rules: the words dealers use for each service category.

Op codes are the dealer's own in every DMS (CDK, Reynolds, Dealertrack let each store create
them), so the description carries most of the meaning. The wording below follows how RO line
reports and dealer service menus write lines: abbreviations (``LOF``, ``BRK``, ``ALGN``,
``MPI``, ``C/S`` for customer states), common misspellings (``ALLIGNMENT``, ``BREAK PADS``) and
the non-purchase lines that mention tires or brakes (rotation, pressure, TPMS, inspection,
measurement). Tuned on the tuning half of the public fixture ``tests/fixtures/opcodes/``
(descriptions collected from published dealer service menus and DMS documentation, each row with
its source); ``tests/test_opcode_fixture_eval.py`` reports both halves.

A rule is matched against the *normalized* description (see :data:`NORMALIZE_SQL` in
:mod:`dealersync.service_categories.sql`): lower case, a space between digits and letters, every
other run of characters one space, one space at each end. ``LOF W/ 5W-30`` reads
``" lof w 5 w 30 "``; ``MOUNT & BALANCE 4 TIRES`` reads ``" mount balance 4 tires "``.

``exclude`` phrases are replaced by ``_`` in the description, one after another in their order,
before ``match`` is tested, so they veto the category where they occur and nowhere else: ``4 NEW TIRES +
TIRE ROTATION`` is still a tire line, ``TIRE ROTATION`` alone is not.
"""

from __future__ import annotations

# Shared fragments (RE2 syntax; no look-around in RE2).
_TIRE = r"(?:tires?|tyres?|tirs)"
_BRAKE = r"(?:brakes?|brks?|brake\w+|brak\w*)"
_BRAKE_PART = rf"(?:{_BRAKE}|pads?|rotors?|shoes|calipers?)"
_BATTERY = r"(?:batt\w*|bat)"
_FILTER = r"(?:f[il]+te?rs?|fltrs?|flt)"
# Work done on or about tires that is not selling tires.
_TIRE_SERVICE = (
    r"(?:rota\w*|rot|pressures?|press|psi|inspect\w*|insp|check\w*|chk|repair\w*|rpr|patch\w*"
    r"|plug\w*|flat|tpms|sensors?|nitrogen|n 2|air|fill\w*|inflat\w*|shine|dressing|tread"
    r"|depth|wear|measure\w*|storage|store|swap\w*|changeover|service|svc|light|lamp"
    r"|monitor\w*|relearn|reset)"
)
# Looking at (or measuring) a part without replacing it.
_LOOK = r"(?:inspect\w*|insp|check\w*|chk|measure\w*|meas|diag\w*|eval\w*)"
_BRAKE_LOOK = rf"(?:{_LOOK}|test\w*|life|thickness)"
# What a customer's concern says: the part it names is not what was bought. A symptom anywhere in
# the line makes it a concern line; the vaguer words count only near the part.
_SYMPTOM = (
    r"(?:noises?|squeal\w*|squeak\w*|squeek\w*|grind\w*|rattl\w*|clunk\w*|knock\w*"
    r"|vibrat\w*|shak\w*|shimmy|wobbl\w*|leak\w*|smell\w*)"
)
_CONCERN = r"(?:sounds?|pull\w*|lights?|feels?|making|hear\w*)"
# A multi-point inspection sheet's result colour before the item: GREEN TIRE, GREEN BATTERY.
_MPI_RESULT = "green"


def _not_bought(part: str) -> tuple[str, ...]:
    """Exclude phrases shared by tires and brakes: lines that name the part without selling it."""
    return (
        rf"^.*\b{_SYMPTOM}\b.*$",  # a concern line
        rf"\b{part}(?: \w+){{0,5}} {_CONCERN}\b",
        rf"\b{_CONCERN}(?: \w+){{0,5}} {part}\b",
        r"^.*\b(?:recall\w*|campaign)\b.*$",  # recall work is not a purchase
        r"\b(?:\w+ )?(?:insp\w*|make sure)(?: \w+){0,8}",  # what is inspected, and why
    )


#: category -> (match, exclude): the built-in keyword layer.
KEYWORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tires": (
        (
            rf"\b{_TIRE}\b",
            r"\b(?:mount\w*|mnt) (?:and |n )?(?:bal\w*|dismount\w*)\b",
            r"\bm b\b",  # M&B: mount and balance
            r"\b(?:michelin|goodyear|bridgestone|firestone|continental|pirelli|bf ?goodrich|bfg"
            r"|hankook|yokohama|toyo|kumho|falken|dunlop|nitto)\b",
            r"\ball (?:terrain|season)\b",
            r"\b\d{3} \d{2} z?r \d{2}\b",  # a tire size: 225/65R17
        ),
        (
            *_not_bought(_TIRE),
            rf"\b{_TIRE} {_TIRE_SERVICE}\b",
            rf"\b{_TIRE}(?: \w+)? {_TIRE_SERVICE}\b",
            rf"\b{_TIRE_SERVICE}(?: \w+){{0,3}} {_TIRE}\b",
            rf"^ (?:balanc\w*|bal)(?: \w+)? {_TIRE}\b",
            rf"\b(?:spare|{_MPI_RESULT}) {_TIRE}\b",
            r"^.*\bprotection (?:plan|program|package|pkg)\b.*$",  # a plan line sells the plan
        ),
    ),
    "brakes": (
        (
            rf"\b{_BRAKE}\b",
            r"\b(?:pads?|rotors?|calipers?|shoes|drums?)\b",
            r"\bbreaks? (?:pads?|rotors?|shoes|job|service|svc)\b",
        ),
        (
            *_not_bought(_BRAKE_PART),
            rf"\b{_BRAKE_PART} {_BRAKE_LOOK}\b",
            rf"\b{_BRAKE_LOOK}(?: \w+){{0,2}} {_BRAKE_PART}\b",
            rf"\b{_BRAKE_PART}(?: \w+){{0,2}} {_BRAKE_LOOK}\b",
            rf"\b{_BRAKE_PART}(?: \w+){{0,2}} mm\b",
            rf"\b{_BRAKE} (?:system |sys )?(?:fluid|fl|flush\w*|bleed\w*|exchange|light|lamp|bulb"
            r"|switch)\b",
            rf"\b{_MPI_RESULT} {_BRAKE}\b",
        ),
    ),
    "oil": (
        (
            r"\blof\b",
            r"\blube\b",
            r"\boil\b",
            r"\b(?:syn|synth\w*)\b",
            r"\b\d{1,2} w \d{2}\b",  # a viscosity: 5W-30
            r"\bbasic maintenance\b",
        ),
        (
            r"\boil (?:\w+ )?(?:leak\w*|pan|pressure|cooler|seal|sensor|sending|switch|level"
            r"|consumption|light|lamp|gasket|pump|lines?|cap|dipstick|burn\w*|life)\b",
            r"\boil (?:additive|treatment)\b",
            r"\b(?:trans\w*|diff\w*|gear|transfer case|t case|axle|hydraulic|fork|power steering"
            r"|ps) (?:\w+ )?oil\b",
            r"\b(?:check|top|add|reset)\w* (?:\w+ )?oil\b",
        ),
    ),
    "battery": (
        (rf"\b{_BATTERY}\b",),
        (
            rf"\b(?:key|fob|remote|keyless|transmitter)\w* (?:\w+ )?{_BATTERY}\b",
            rf"\b{_BATTERY} (?:\w+ )?(?:key|fob|remote)\b",
            rf"\b(?:{_LOOK})(?: \w+){{0,3}} {_BATTERY}\b",
            rf"\b(?:non|{_MPI_RESULT})(?: \w+)? {_BATTERY}\b",
        ),
    ),
    "alignment": ((r"\bal+[iy]?g?h?n\w*\b", r"\balgn\b", r"\bthrust angle\b"), ()),
    "rotation": ((r"\brota\w*\b", r"\brot\b"), (r"\brotary\b",)),
    "wipers": (
        (r"\bwip\w*\b", r"\b(?:wiper |windshield )?blades?\b"),
        (r"\bfan blades?\b", rf"\b{_LOOK}(?: \w+){{0,2}} wip\w*\b"),
    ),
    "filters": (
        (rf"\b{_FILTER}\b", r"\bcabin air\b", r"\bengine air\b", r"\bpollen\b", r"\bair cleaner\b"),
        (
            rf"\b(?:oil|lof|lube)(?: \w+){{0,2}} {_FILTER}\b",
            rf"\btrans\w* (?:fluid |fl )?(?:and |n )?{_FILTER}\b",
            rf"\b{_LOOK}(?: \w+){{0,3}} {_FILTER}\b",
        ),
    ),
    "fluids": (
        (
            r"\bfluids?\b",
            r"\bflush\w*\b",
            r"\bcoolant\b",
            r"\banti ?freeze\b",
            r"\batf\b",
            r"\btrans\w* (?:service|svc|serv|exchange|flush\w*)\b",
            r"\b(?:differential|diff|gear|transfer case|t case|axle) (?:\w+ )?(?:service|svc|oil|fluid"
            r"|lube)\b",
            r"\bpower steering (?:service|svc|fluid|flush\w*)\b",
            r"\bcooling (?:sys\w*|system) (?:service|svc|flush\w*)\b",
            # the fuel and oil additive services dealers sell on their fluids menu (BG, Wynn's)
            r"\b(?:additive|induction|fuel system (?:clean\w*|service|svc)|fuel treatment"
            r"|combustion chamber)\b",
        ),
        (
            r"\b(?:check|top|inspect|level)\w*(?: \w+)? fluids?\b",
            r"\bfluids? (?:\w+ )?(?:levels?|check\w*|top\w*)\b",
            r"\b(?:coolant|fluids?|antifreeze|trans\w*) (?:\w+ )?leak\w*\b",
            r"\bleak\w* (?:\w+ )?(?:coolant|fluids?|antifreeze)\b",
        ),
    ),
    "inspection": (
        (
            r"\binsp\w*\b",
            r"\bmpi\b",
            r"\bmulti ?point\b",
            r"\b\d+ point\b",
            r"\b(?:check|chk)\b",
            r"\bcheck ?up\b",
            r"\bmake sure\b",
            r"\b(?:smog|emissions? test)\b",
            rf"\b{_MPI_RESULT} (?:{_TIRE}|{_BRAKE}|{_BATTERY})\b",
        ),
        (
            r"\bcheck engine\b",
            r"\b(?:check|chk) (?:and |n )?advise\b",
            r"\b(?:check|chk)(?: \w+)? al+[iy]?g?h?n\w*\b",  # an alignment check is alignment work
            r"\bal+[iy]?g?h?n\w*(?: \w+)? (?:check|chk)\b",
        ),
    ),
    "recall": ((r"\brecall\w*\b", r"\bcampaign\b", r"\bnhtsa\b"), ()),
    "diagnosis": (
        (
            r"\bdiag\w*\b",
            r"\btroubleshoot\w*\b",
            r"\btest\w*\b",
            r"\bcheck engine\b",
            r"\bcel\b",
            r"\b(?:check|chk) (?:and |n )?advise\b",
            r"\bc a\b",
            r"\b(?:cust\w*|client) (?:is )?(?:states|concern\w*|complain\w*|report\w*|says)\b",
            r"\bc s\b",
            r"\b(?:noises?|squeal\w*|squeak\w*|squeek\w*|grind\w*|rattl\w*|clunk\w*|knock\w*"
            r"|vibrat\w*|shak\w*|shimmy|wobbl\w*|leak\w*|smell\w*|stuck|intermittent\w*)\b",
            r"\b(?:lights?|lamps?) (?:is |are )?(?:on|came on|comes on|coming on)\b",
            r"\bwarning lights?\b",
            r"\b(?:crank\w*|jump start\w*|no start|won t start|charging system)\b",
            r"\bnot (?:working|cooling|heating|starting|stopping|doing)\b",
            r"\bfeels? like\b",
            r"\b(?:inop|inoperative|isolate|issues?|problems?|concerns?)\b",
        ),
        (
            rf"\b{_BATTERY} test\w*\b",
            rf"\btest\w* (?:the )?{_BATTERY}\b",
            r"\bemissions? test\w*\b",
            r"\bno (?:concerns?|issues?|problems?)\b",
            # the reason an inspection is asked for is part of the inspection
            r"\b(?:insp\w*|make sure)(?: \w+){0,5}",
        ),
    ),
}
