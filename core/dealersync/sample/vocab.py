"""Word lists the sample generator draws from: names, places, vehicles, campaigns."""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony",
    "Sandra", "Mark", "Ashley", "Steven", "Emily", "Paul", "Michelle", "Andrew", "Amanda",
    "Joshua", "Melissa", "Kevin", "Stephanie", "Brian", "Rebecca", "George", "Laura", "Tyler",
    "Hannah", "Ethan", "Olivia", "Noah", "Emma", "Liam", "Ava", "Mason", "Mia", "Wei", "Priya",
    "Mohammed", "Aaliyah", "Dmitri", "Keiko",
    "José", "María", "Jesús", "Sofía", "Andrés", "Inés", "Zoë", "Renée", "Chloé", "François",
    "Björn", "Anaïs", "Mary-Kate", "Jo Ann", "D'Andre",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
    "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill",
    "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips",
    "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Nguyen", "Patel",
    "Kim", "Chen", "Cohen", "Schmidt",
    "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez",
    "Núñez", "Muñoz", "Müller", "O'Brien", "O'Connor", "D'Angelo", "McDonald", "Smith-Jones",
    "St. John", "Van der Berg",
)  # fmt: skip

NAME_SUFFIXES: tuple[str, ...] = ("Jr.", "Sr.", "III", "II")

STREETS: tuple[str, ...] = (
    "Main", "Oak", "Pecan", "Cedar", "Elm", "Maple", "Lamar", "Congress", "Guadalupe", "Burnet",
    "Riverside", "Cameron", "Parmer", "Anderson Mill", "Brodie", "Slaughter", "Manchaca",
    "William Cannon", "Research", "Mopac", "Bluebonnet", "Live Oak", "Mesquite", "Sunset",
    "Lakeview", "Hillcrest", "Ranch Road 620", "County Road 110", "Hidden Valley", "Old Settlers",
)  # fmt: skip

STREET_TYPES: tuple[str, ...] = (
    "St", "Ave", "Rd", "Dr", "Ln", "Blvd", "Trl", "Ct", "Street", "Drive",
)  # fmt: skip

#: (city, state code, state name, postal-code stem, country, weight)
PLACES: tuple[tuple[str, str, str, str, str, int], ...] = (
    ("Austin", "TX", "Texas", "787", "US", 40),
    ("Round Rock", "TX", "Texas", "786", "US", 12),
    ("Cedar Park", "TX", "Texas", "786", "US", 8),
    ("Georgetown", "TX", "Texas", "786", "US", 6),
    ("Pflugerville", "TX", "Texas", "786", "US", 6),
    ("Leander", "TX", "Texas", "786", "US", 5),
    ("San Marcos", "TX", "Texas", "786", "US", 4),
    ("Kyle", "TX", "Texas", "786", "US", 4),
    ("San Antonio", "TX", "Texas", "782", "US", 4),
    ("Dallas", "TX", "Texas", "752", "US", 2),
    ("Houston", "TX", "Texas", "770", "US", 2),
    ("Oklahoma City", "OK", "Oklahoma", "731", "US", 1),
    ("Albuquerque", "NM", "New Mexico", "871", "US", 1),
    ("Denver", "CO", "Colorado", "802", "US", 1),
    ("Shreveport", "LA", "Louisiana", "711", "US", 1),
    ("Toronto", "ON", "Ontario", "M5V", "CA", 1),
    ("Monterrey", "NL", "Nuevo León", "640", "MX", 1),
)

#: Area codes for generated phone numbers; 555 is over-represented on purpose.
AREA_CODES: tuple[str, ...] = (
    "555", "555", "555", "555", "512", "512", "512", "737", "210", "214", "469", "713", "832",
    "254", "361",
)  # fmt: skip

FOREIGN_PHONE_STEMS: tuple[str, ...] = (
    "+44 20 7946 ",
    "+52 55 1234 ",
    "+49 30 1234 ",
    "+61 2 9876 ",
)

JUNK_PHONES: tuple[str, ...] = ("n/a", "123", "000-000-0000", "none", "N/A", "999")

EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "gmail.com", "gmail.com", "gmail.com", "gmail.com", "gmail.com", "yahoo.com",
    "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "att.net", "comcast.net",
    "austin.rr.com", "googlemail.com",
)  # fmt: skip

GMAIL_TAGS: tuple[str, ...] = ("cars", "dealer", "service", "promo")

#: (make, model, fuel type, VIN world manufacturer id, base price, trims)
VEHICLES: tuple[tuple[str, str, str, str, int, tuple[str, ...]], ...] = (
    ("Ford", "F-150", "gas", "1FT", 48000, ("XL", "XLT", "Lariat", "Platinum")),
    ("Ford", "Escape", "hybrid", "1FM", 31000, ("S", "SE", "Titanium")),
    ("Ford", "Mustang Mach-E", "electric", "3FM", 45000, ("Select", "Premium", "GT")),
    ("Chevrolet", "Silverado 1500", "gas", "1GC", 46000, ("WT", "LT", "RST", "High Country")),
    ("Chevrolet", "Equinox", "gas", "2GN", 29000, ("LS", "LT", "RS")),
    ("Chevrolet", "Silverado 2500HD", "diesel", "1GC", 58000, ("WT", "LT", "LTZ")),
    ("Toyota", "Camry", "gas", "4T1", 28000, ("LE", "SE", "XSE", "XLE")),
    ("Toyota", "RAV4", "hybrid", "2T3", 33000, ("LE", "XLE", "Limited")),
    ("Toyota", "Tacoma", "gas", "3TM", 36000, ("SR", "SR5", "TRD Off-Road")),
    ("Honda", "Civic", "gas", "2HG", 25000, ("LX", "Sport", "EX", "Touring")),
    ("Honda", "CR-V", "hybrid", "7FA", 32000, ("LX", "EX", "EX-L", "Sport Touring")),
    ("Nissan", "Altima", "gas", "1N4", 27000, ("S", "SV", "SR")),
    ("Nissan", "Leaf", "electric", "1N4", 30000, ("S", "SV Plus")),
    ("Tesla", "Model 3", "electric", "5YJ", 42000, ("Standard", "Long Range", "Performance")),
    ("Hyundai", "Tucson", "gas", "5NM", 29000, ("SE", "SEL", "Limited")),
    ("Kia", "Telluride", "gas", "5XY", 38000, ("LX", "S", "EX", "SX")),
    ("Jeep", "Wrangler", "gas", "1C4", 35000, ("Sport", "Sahara", "Rubicon")),
    ("Ram", "1500", "gas", "1C6", 44000, ("Tradesman", "Big Horn", "Laramie")),
    ("Subaru", "Outback", "gas", "4S4", 30000, ("Base", "Premium", "Limited")),
    ("BMW", "X5", "gas", "5UX", 65000, ("sDrive40i", "xDrive40i", "M60i")),
)

#: The built-in op codes (dealersync.opcodes) as the plain extract writes them: category, typical
#: labor and parts price, and the one description a service writer types for each.
PLAIN_OPS: dict[str, tuple[str, int, int, str]] = {
    "LOF": ("oil", 30, 35, "Lube oil and filter"),
    "LOFS": ("oil", 35, 55, "Synthetic oil change"),
    "OILCHG": ("oil", 30, 40, "OIL CHANGE"),
    "TIRE2": ("tires", 60, 320, "Mount and balance 2 tires"),
    "TIRE4": ("tires", 100, 720, "Mount and balance 4 tires"),
    "TIRES": ("tires", 90, 640, "Replace tires"),
    "TROT": ("rotation", 25, 0, "Tire rotation"),
    "BRKF": ("brakes", 150, 180, "Front brake pads and rotors"),
    "BRKR": ("brakes", 140, 160, "Rear brake pads"),
    "BRAKES": ("brakes", 200, 300, "Brake service"),
    "BATT": ("battery", 30, 180, "Replace battery"),
    "BATTEST": ("battery", 20, 0, "Battery test"),
    "ALIGN": ("alignment", 110, 0, "4-wheel alignment"),
    "WIPER": ("wipers", 10, 35, "Replace wiper blades"),
    "CABFLT": ("filters", 25, 40, "Cabin air filter"),
    "ENGFLT": ("filters", 20, 30, "Engine air filter"),
    "TRANS": ("fluids", 120, 90, "Transmission fluid service"),
    "COOL": ("fluids", 100, 60, "Coolant flush"),
    "MPI": ("inspection", 0, 0, "Multi-point inspection"),
    "RECALL": ("recall", 0, 0, "Recall campaign"),
    "DIAG": ("diagnosis", 150, 0, "Diagnose concern"),
}

EMAIL_CAMPAIGNS: tuple[str, ...] = (
    "service-reminder", "tire-sale", "lease-pull-ahead", "monthly-newsletter", "recall-notice",
    "holiday-sales-event", "trade-in-offer", "ev-test-drive",
)  # fmt: skip

CLINIC_CAMPAIGNS: tuple[str, ...] = ("truck-clinic", "ev-clinic", "new-owner-clinic")
