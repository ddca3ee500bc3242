"""police.uk's vocabulary in the warehouse: categories, outcomes and the map-point rule.

``crime.police_uk_category`` and ``offence_type.police_uk_category`` hold a category slug,
``offence_type.police_uk_label`` its label, ``crime.outcome`` an outcome code; every
``map_point`` covers at least :data:`MIN_ADDRESSES` postal addresses or none. The generator
writes them and the police.uk publisher relies on them; both take them from here.

Example:
    >>> CATEGORY_LABELS["violent-crime"]
    'Violence and sexual offences'
    >>> len(CATEGORY_LABELS), OUTCOME_LABELS["under-investigation"]
    (14, 'Under investigation')
"""

from __future__ import annotations

from typing import Final

__all__ = ["ASB_LABEL", "CATEGORY_LABELS", "MIN_ADDRESSES", "OUTCOME_LABELS"]

#: A map point covers at least this many postal addresses, or none (police.uk).
MIN_ADDRESSES: Final = 8

ASB_LABEL: Final = "Anti-social behaviour"

#: police.uk's 14 street-level categories (slug → label).
CATEGORY_LABELS: Final = {
    "anti-social-behaviour": ASB_LABEL,
    "bicycle-theft": "Bicycle theft",
    "burglary": "Burglary",
    "criminal-damage-arson": "Criminal damage and arson",
    "drugs": "Drugs",
    "other-theft": "Other theft",
    "possession-of-weapons": "Possession of weapons",
    "public-order": "Public order",
    "robbery": "Robbery",
    "shoplifting": "Shoplifting",
    "theft-from-the-person": "Theft from the person",
    "vehicle-crime": "Vehicle crime",
    "violent-crime": "Violence and sexual offences",
    "other-crime": "Other crime",
}

#: police.uk's outcome categories (code → the label published in "Last outcome category"):
#: the whole published list; the generator uses some of them, a force's feed may carry any.
OUTCOME_LABELS: Final = {
    "under-investigation": "Under investigation",
    "no-further-action": "Investigation complete; no suspect identified",
    "unable-to-prosecute": "Unable to prosecute suspect",
    "local-resolution": "Local resolution",
    "cautioned": "Offender given a caution",
    "charged": "Suspect charged",
    "sentenced-in-another-case": "Suspect charged as part of another case",
    "penalty-notice-issued": "Offender given penalty notice",
    "drugs-possession-warning": "Offender given a drugs possession warning",
    "action-taken-by-another-organisation": "Action to be taken by another organisation",
    "formal-action-not-in-public-interest": "Formal action is not in the public interest",
    "further-investigation-not-in-public-interest": (
        "Further investigation is not in the public interest"
    ),
    "further-action-not-in-public-interest": "Further action is not in the public interest",
    "awaiting-court-result": "Awaiting court outcome",
    "court-result-unavailable": "Court result unavailable",
    "unable-to-proceed": "Court case unable to proceed",
    "imprisoned": "Offender sent to prison",
    "community-penalty": "Offender given community sentence",
    "fined": "Offender fined",
    "absolute-discharge": "Offender given absolute discharge",
    "conditional-discharge": "Offender given conditional discharge",
    "suspended-sentence": "Offender given suspended prison sentence",
    "compensation": "Offender ordered to pay compensation",
    "deprived-of-property": "Offender deprived of property",
    "other-court-disposal": "Offender otherwise dealt with",
    "not-guilty": "Defendant found not guilty",
    "sent-to-crown-court": "Defendant sent to Crown Court",
    "status-update-unavailable": "Status update unavailable",
}
