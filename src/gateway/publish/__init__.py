"""Publication extracts: what leaves the force for the public, in published layouts.

    policeuk   the police.uk street-level CSV layout and row shaping (pure)
    extract    publish_police_uk: run the month's queries through the service, write, audit
    signoff    sign_off_publication: a second administrator signs the extract off (audited)

Example:
    >>> from gateway.publish import HEADER
    >>> HEADER[0], HEADER[-1]
    ('Crime ID', 'Context')
"""

from gateway.publish.extract import (
    PUBLICATION_PURPOSE,
    PoliceUkExtract,
    publication_principal,
    publish_police_uk,
)
from gateway.publish.policeuk import HEADER, StreetRecord, crime_id_hash, month_bounds
from gateway.publish.signoff import sign_off_publication

__all__ = [
    "HEADER",
    "PUBLICATION_PURPOSE",
    "PoliceUkExtract",
    "StreetRecord",
    "crime_id_hash",
    "month_bounds",
    "publication_principal",
    "publish_police_uk",
    "sign_off_publication",
]
