"""Region codes the normalizers look values up in: US states (names and codes), countries (ISO codes
and the names dealers type for them) and the regions sharing the +1 phone plan.

Keys are *squashed*: lowercase, letters only (``"New York"`` -> ``"newyork"``), which is what the
SQL normalizers compute before looking a value up.
"""

from __future__ import annotations

import phonenumbers

#: US state (50 + DC + PR, and the other inhabited territories) squashed name -> 2-letter code.
US_STATES: dict[str, str] = {
    "alabama": "al",
    "alaska": "ak",
    "arizona": "az",
    "arkansas": "ar",
    "california": "ca",
    "colorado": "co",
    "connecticut": "ct",
    "delaware": "de",
    "florida": "fl",
    "georgia": "ga",
    "hawaii": "hi",
    "idaho": "id",
    "illinois": "il",
    "indiana": "in",
    "iowa": "ia",
    "kansas": "ks",
    "kentucky": "ky",
    "louisiana": "la",
    "maine": "me",
    "maryland": "md",
    "massachusetts": "ma",
    "michigan": "mi",
    "minnesota": "mn",
    "mississippi": "ms",
    "missouri": "mo",
    "montana": "mt",
    "nebraska": "ne",
    "nevada": "nv",
    "newhampshire": "nh",
    "newjersey": "nj",
    "newmexico": "nm",
    "newyork": "ny",
    "northcarolina": "nc",
    "northdakota": "nd",
    "ohio": "oh",
    "oklahoma": "ok",
    "oregon": "or",
    "pennsylvania": "pa",
    "rhodeisland": "ri",
    "southcarolina": "sc",
    "southdakota": "sd",
    "tennessee": "tn",
    "texas": "tx",
    "utah": "ut",
    "vermont": "vt",
    "virginia": "va",
    "washington": "wa",
    "westvirginia": "wv",
    "wisconsin": "wi",
    "wyoming": "wy",
    "districtofcolumbia": "dc",
    "washingtondc": "dc",
    "puertorico": "pr",
    "guam": "gu",
    "usvirginislands": "vi",
    "virginislands": "vi",
    "americansamoa": "as",
    "northernmarianaislands": "mp",
}

US_STATE_CODES: frozenset[str] = frozenset(US_STATES.values())

#: Every ISO 3166-1 alpha-2 code phonenumbers knows (its region list), lowercase.
COUNTRY_CODES: frozenset[str] = frozenset(
    r.lower() for r in phonenumbers.SUPPORTED_REGIONS if len(r) == 2 and r.isalpha()
)

#: Squashed country names and alpha-3 codes dealers actually type -> alpha-2 (lowercase).
COUNTRY_ALIASES: dict[str, str] = {
    "usa": "us",
    "unitedstates": "us",
    "unitedstatesofamerica": "us",
    "america": "us",
    "can": "ca",
    "canada": "ca",
    "mex": "mx",
    "mexico": "mx",
    "méxico": "mx",
    "uk": "gb",
    "gbr": "gb",
    "greatbritain": "gb",
    "unitedkingdom": "gb",
    "england": "gb",
    "scotland": "gb",
    "wales": "gb",
    "pri": "pr",
    "puertorico": "pr",
    "deu": "de",
    "germany": "de",
    "fra": "fr",
    "france": "fr",
    "esp": "es",
    "spain": "es",
    "ita": "it",
    "italy": "it",
    "aus": "au",
    "australia": "au",
    "ireland": "ie",
    "irl": "ie",
    "india": "in",
    "ind": "in",
    "china": "cn",
    "chn": "cn",
    "japan": "jp",
    "jpn": "jp",
    "brazil": "br",
    "bra": "br",
}

#: Countries in the North American Numbering Plan (country code 1).
NANP_REGIONS: frozenset[str] = frozenset(phonenumbers.region_codes_for_country_code(1))
