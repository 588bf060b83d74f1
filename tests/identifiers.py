"""Shared identifier mappings of the identity tests (field -> profile, as ``build_members`` and
``KeptMembers`` take them)."""

META = {
    "email": "meta.email",
    "phone": "meta.phone",
    "fn": "meta.fn",
    "ln": "meta.ln",
    "ct": "meta.ct",
    "st": "meta.st",
    "zip": "meta.zip",
    "country": "meta.country",
    "doby": "meta.doby",
}
GOOGLE = {
    "email": "google.email",
    "phone": "google.phone",
    "first_name": "google.given_name",
    "last_name": "google.family_name",
    "country": "google.country",
    "zip": "google.postal_code",
}
