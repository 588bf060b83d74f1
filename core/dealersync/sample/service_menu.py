"""The service menus the sample generator writes repair-order lines from.

Two menus: :data:`PLAIN_MENU`, the built-in op-code catalog with one tidy description per code (the
canonical extract the benchmark uses), and :data:`DEALER_MENU`, the op codes of the fictional
dealer as its service writers type them: the dealer's own codes, several per category, typos and
abbreviations, package lines that sell several categories, lines that name tires or brakes without
selling them, and a catch-all ``MISC`` code whose lines only their description explains.

Every menu line carries its *intended* categories: what a service manager reading the line would
say it sold. That is the sample's ground truth (:func:`intended_categories`); the tests compare
the warehouse's facts against it.

The dealer's wording is modelled on public sources, none copied:

- op codes are the dealer's own, with a description, and a dealer keeps separate codes for
  declined or recommended work and for inspection findings on tires and brakes: WardsAuto,
  "Use Op Codes for Marketing" (https://www.wardsauto.com/news-analysis/use-op-codes-marketing);
- customer-pay codes are dealer-made while warranty codes follow the manufacturer ("00TOZ2 Lube,
  Oil, Filter" on a Toyota dealer's history): IH8MUD forum, "Dealer Service Operation Codes"
  (https://forum.ih8mud.com/threads/dealer-service-operation-codes.6421/);
- short mnemonic codes such as "OCT" for an oil change with a treatment: KT Auto Pro, "Mastering
  OpCodes ... Using CDK" (https://ktautopro.com/2024/09/26/mastering-opcodes-a-comprehensive-
  guide-for-automotive-dealership-leaders-using-cdk);
- menu wording (mount and balance, road force balance, thrust angle alignment, multi-point
  inspection, brake inspection, tire pressure checks, 30K/60K maintenance packages): dealer tire
  and maintenance menu guides (https://winenfood.com/understanding-the-full-dealer-tire-service-
  list, https://eatsip365.com/what-is-a-standard-fixed-automotive-service-menu) and the Michelin
  fleet service price book's service list (https://wixlib.com/document/179b2_passenger-and-light-
  truck-service-and-parts-price.html).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dealersync.sample import vocab


@dataclass(frozen=True)
class MenuLine:
    """One op code of a service menu (or one wording of the catch-all code)."""

    code: str
    #: The ways service writers type the line (typos and abbreviations included).
    descriptions: tuple[str, ...]
    #: What the line sells when performed: its intended categories (none: uncategorized).
    categories: tuple[str, ...]
    labor: int
    parts: int
    #: Categories the wording names without selling them ("TIRE ROTATION" names tires).
    mentions: tuple[str, ...] = ()
    #: Weight as the reason for the visit (the RO's first line).
    visit: int = 0
    #: Weight as a further line of the RO.
    addon: int = 0
    #: Share of further lines declined, and share recommended (not done, not yet declined).
    declined: float = 0.08
    recommended: float = 0.10


#: Tire and brake jobs are often sold on inspection and often put off: declined, then recommended.
_PUT_OFF = 0.45
_RECOMMENDED = 0.15

DEALER_MENU: tuple[MenuLine, ...] = (
    # oil, several codes and packages
    MenuLine("01LOF", ("LUBE OIL & FILTER", "LOF - CONV OIL UP TO 5 QTS", "LUBE OIL FLTR",
                       "LUBE, OIL AND FILTER"),
             ("oil",), 30, 35, visit=6),
    MenuLine("LOFSYN", ("LOF SYNTHETIC 0W20", "FULL SYNTHETIC OIL CHANGE", "SYNTH OIL & FLTR CHG",
                        "LOF FULL SYN UP TO 6 QTS"),
             ("oil",), 35, 55, visit=7),
    MenuLine("OCT", ("OIL CHANGE W/ FUEL TREATMENT", "OIL CHG + TREATMENT"),
             ("oil",), 40, 50, visit=2),
    MenuLine("LOFD", ("DIESEL LOF 15W40", "DIESEL OIL & FILTER CHANGE", "LOF DIESEL - 13 QTS"),
             ("oil",), 60, 110, visit=1),
    MenuLine("LOFROT", ("LOF W/ TIRE ROTATION", "LOF & ROTATE TIRES", "OIL CHANGE/TIRE ROTATION",
                        "LOF + TIRE ROTATON"),
             ("oil", "rotation"), 50, 40, mentions=("tires",), visit=6),
    MenuLine("EXPSVC", ("EXPRESS SVC - LOF, ROTATE, MPI", "EXPRESS SERVICE LOF/ROT/INSP"),
             ("oil", "rotation", "inspection"), 60, 45, visit=3),
    MenuLine("30K", ("30K MAINT - LOF, ROTATE, CABIN & ENG AIR FLTRS", "30,000 MILE SERVICE"),
             ("oil", "rotation", "filters"), 150, 95, visit=2),
    MenuLine("60K", ("60K MAJOR SVC - LOF, TRANS FLUID, COOLANT, FILTERS", "60,000 MI MAINTENANCE"),
             ("oil", "fluids", "filters"), 380, 210, visit=1),
    # tires bought
    MenuLine("4TIRESMB", ("MOUNT & BALANCE 4 NEW TIRES", "4 TIRES M&B",
                          "MNT/BAL 4 TIRES + TPMS KITS", "4 NEW TIRS MOUNT & BAL"),
             ("tires",), 100, 720, visit=2, addon=2, declined=_PUT_OFF, recommended=_RECOMMENDED),
    MenuLine("2TIRES", ("2 TIRES MOUNT AND BALANCE", "REPLACE 2 FRONT TIRES", "2 TIRES M/B"),
             ("tires",), 60, 340, visit=1, addon=1, declined=_PUT_OFF, recommended=_RECOMMENDED),
    MenuLine("TIRE1", ("REPLACE 1 TIRE - ROAD HAZARD", "1 TIRE R&R SIDEWALL DAMAGE"),
             ("tires",), 35, 190, visit=1),
    MenuLine("4TALN", ("4 TIRES MOUNT & BALANCE + ALIGN", "4 TIRES M&B W/ 4 WHL ALIGNMENT"),
             ("tires", "alignment"), 190, 760, visit=1, addon=1, declined=_PUT_OFF,
             recommended=_RECOMMENDED),
    MenuLine("KO2X4", ("BFGOODRICH KO2 LT275/70R18 X4 INSTALLED", "BFG ALL TERRAIN SET OF 4"),
             ("tires",), 110, 1180, visit=1),
    # tires named, not bought
    MenuLine("TR", ("TIRE ROTATION", "ROTATE TIRES", "TIRE ROTATON", "ROT TIRES - SET PRESSURES"),
             ("rotation",), 25, 0, mentions=("tires",), visit=2, addon=4, declined=0.1,
             recommended=0.05),
    MenuLine("ROTBAL", ("ROTATE & BALANCE", "ROTATE AND BALANCE 4 TIRES", "TIRE ROTATE/BALANCE"),
             ("rotation",), 60, 0, mentions=("tires",), visit=1, addon=2, declined=0.2),
    MenuLine("TPC", ("TIRE PRESSURE CHECK", "CHECK & ADJUST TIRE PRESSURE",
                     "TPMS LIGHT ON - CHK TIRE PRESS"),
             ("inspection",), 0, 0, mentions=("tires",), visit=1, addon=2, declined=0.0,
             recommended=0.0),
    MenuLine("FLAT", ("FLAT TIRE REPAIR", "PATCH TIRE - NAIL IN TREAD", "TIRE PLUG/PATCH"),
             (), 30, 5, mentions=("tires",), visit=1),
    MenuLine("RFB", ("ROAD FORCE BALANCE 4 WHEELS", "BALANCE TIRES - VIBRATION @ 65"),
             (), 90, 0, mentions=("tires",), addon=1, declined=0.25),
    # brakes bought
    MenuLine("BRK01", ("FRONT BRAKE PADS & ROTORS", "FRT BRAKES PADS/ROTORS",
                       "FRONT BREAK PADS & RESURFACE ROTORS", "FRT PADS + ROTORS"),
             ("brakes",), 150, 180, visit=1, addon=2, declined=_PUT_OFF, recommended=_RECOMMENDED),
    MenuLine("BRK02", ("REAR BRAKE PADS", "RR BRAKE PADS & ROTORS", "REAR BRAKES - PADS"),
             ("brakes",), 140, 160, visit=1, addon=2, declined=_PUT_OFF, recommended=_RECOMMENDED),
    MenuLine("BRKJOB", ("PADS & ROTORS 4 WHEEL", "BRAKE JOB ALL 4 WHLS"),
             ("brakes",), 280, 340, visit=1, addon=1, declined=_PUT_OFF, recommended=_RECOMMENDED),
    MenuLine("CALIP", ("REPLACE FRONT CALIPER L/F", "CALIPER R&R - STICKING"),
             ("brakes",), 120, 210, addon=1, declined=0.4),
    # brakes named, not bought
    MenuLine("BRKINSP", ("BRAKE INSPECTION", "INSPECT BRAKES - MEASURE PADS", "BRAKE INSP"),
             ("inspection",), 40, 0, mentions=("brakes",), visit=1, addon=2, declined=0.05),
    MenuLine("MPI", ("MULTI POINT INSPECTION", "MULTI POINT INSP - CHECK BRAKES",
                     "MPI - TIRES & BRAKES MEASURED", "COMPLIMENTARY MULTI-POINT INSP"),
             ("inspection",), 0, 0, mentions=("tires", "brakes"), addon=6, declined=0.0,
             recommended=0.0),
    MenuLine("BRKNOISE", ("CUST STATES BRAKE NOISE - DIAG", "DIAG BRAKE SQUEAL"),
             ("diagnosis",), 90, 0, mentions=("brakes",), visit=1),
    MenuLine("BRKFL", ("BRAKE FLUID FLUSH", "BRAKE FLUID EXCHANGE"),
             ("fluids",), 90, 25, mentions=("brakes",), addon=1, declined=0.3),
    # everything else
    MenuLine("BATT", ("REPLACE BATTERY", "BATTERY REPLACEMENT 48 MO", "BATTRY R&R"),
             ("battery",), 30, 180, visit=1, addon=1, declined=0.3),
    MenuLine("BATTST", ("BATTERY TEST", "TEST BATT & CHARGING SYS"),
             ("inspection",), 20, 0, mentions=("battery",), addon=1, declined=0.0, recommended=0.0),
    MenuLine("ALIGN", ("4 WHEEL ALIGNMENT", "4WHL ALIGN", "ALIGNMNT CHECK & ADJUST",
                       "THRUST ANGLE ALIGNMENT"),
             ("alignment",), 110, 0, visit=1, addon=2, declined=0.3),
    MenuLine("WIPER", ("REPLACE WIPER BLADES", "WIPERS FRONT PAIR", "WIPER BLADE INSERTS"),
             ("wipers",), 10, 35, addon=2, declined=0.25),
    MenuLine("CABIN", ("CABIN AIR FILTER", "REPLACE CABIN FLTR", "CABIN FILTER - POLLEN"),
             ("filters",), 25, 40, addon=2, declined=0.3),
    MenuLine("EAF", ("ENGINE AIR FILTER", "ENG AIR FLTR REPLACE"),
             ("filters",), 20, 30, addon=2, declined=0.3),
    MenuLine("TRANSFL", ("TRANS FLUID EXCHANGE", "TRANSMISSION FLUID SERVICE", "ATF FLUSH"),
             ("fluids",), 120, 90, visit=1, addon=1, declined=0.35),
    MenuLine("COOL", ("COOLANT FLUSH", "COOLING SYS SERVICE", "ANTIFREEZE FLUSH & FILL"),
             ("fluids",), 100, 60, addon=1, declined=0.35),
    MenuLine("RECALL", ("SAFETY RECALL 24V-512", "PERFORM RECALL CAMPAIGN", "RECALL - FUEL PUMP"),
             ("recall",), 0, 0, visit=1, addon=1, declined=0.02, recommended=0.0),
    MenuLine("DIAG", ("DIAGNOSE CHECK ENGINE LIGHT", "CEL DIAG",
                      "DIAG - CUST STATES NOISE FRONT END"),
             ("diagnosis",), 150, 0, visit=2),
    MenuLine("WASH", ("COMPLIMENTARY CAR WASH", "CAR WASH"),
             (), 0, 0, addon=2, declined=0.0, recommended=0.0),
    # the catch-all code: only the description says what was sold
    MenuLine("MISC", ("4 NEW TIRES INSTALLED",),
             ("tires",), 100, 700, addon=1, declined=_PUT_OFF, recommended=_RECOMMENDED),
    MenuLine("MISC", ("REPLACE FRONT PADS",),
             ("brakes",), 120, 90, addon=1, declined=_PUT_OFF, recommended=_RECOMMENDED),
    MenuLine("MISC", ("ROTATE TIRES PER CUST",),
             ("rotation",), 25, 0, mentions=("tires",), addon=1),
    MenuLine("MISC", ("INSPECT BRAKES PER CUST",),
             ("inspection",), 0, 0, mentions=("brakes",), addon=1),
)  # fmt: skip

#: How often each built-in op code is the reason for the visit in the plain extract.
_PLAIN_VISIT_WEIGHTS: dict[str, int] = {
    "LOF": 8, "LOFS": 5, "OILCHG": 3, "TIRE4": 2, "TIRE2": 1, "TIRES": 1, "BRKF": 2, "BRKR": 1,
    "BRAKES": 1, "BATT": 1, "ALIGN": 1, "TRANS": 1, "COOL": 1, "RECALL": 1, "DIAG": 2,
}  # fmt: skip


def _plain_line(code: str, category: str, labor: int, parts: int, description: str) -> MenuLine:
    put_off = category in ("brakes", "tires")
    return MenuLine(
        code,
        (description,),
        (category,),
        labor,
        parts,
        visit=_PLAIN_VISIT_WEIGHTS.get(code, 0),
        addon=1,
        declined=_PUT_OFF if put_off else 0.08,
        recommended=_RECOMMENDED if put_off else 0.10,
    )


#: The built-in catalog, one tidy description per code: the canonical (plain) extract.
PLAIN_MENU: tuple[MenuLine, ...] = tuple(_plain_line(c, *op) for c, op in vocab.PLAIN_OPS.items())


def _by_line(menu: Sequence[MenuLine]) -> dict[tuple[str, str], MenuLine]:
    lines: dict[tuple[str, str], MenuLine] = {}
    for entry in menu:
        for description in entry.descriptions:
            key = (entry.code, description)
            if key in lines:
                raise AssertionError(f"menu line {key} appears twice")
            lines[key] = entry
    return lines


_LINES = _by_line(DEALER_MENU + PLAIN_MENU)


def menu_line(op_code: str, description: str) -> MenuLine:
    """The menu line an ``ro_lines`` row of the sample was written from."""
    return _LINES[(op_code, description)]


def intended_categories(op_code: str, description: str) -> tuple[str, ...]:
    """What a sample line sells when performed, as its menu intends (the ground truth)."""
    return menu_line(op_code, description).categories
