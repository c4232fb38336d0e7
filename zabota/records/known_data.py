"""What the service already knows of how to reach and identify a customer (plain): the channels' verified
identity first (the caller's number, a phone shared in Telegram), then the company's records. Read by the bot's
forms (never ask twice), the handoff summary (the operator never asks) and outreach (where to write).

Only verified sources: the identity directory links channels as identity.py allows, and the system of record
holds the company's own data; a number the customer typed is neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from zabota.identity import CustomerProfile
from zabota.records.store import CustomerRecord


@dataclass(frozen=True)
class KnownData:
    phone: str | None = None
    email: str | None = None
    account_number: str | None = None

    def as_metadata(self) -> dict[str, str]:
        """For Rasa's ``zabota_profile`` metadata: only what is known."""
        fields = {"phone": self.phone, "email": self.email, "account_number": self.account_number}
        return {name: value for name, value in fields.items() if value}


def known_data(profile: CustomerProfile | None, record: CustomerRecord | None) -> KnownData:
    phone = (profile.phone if profile else None) or (record.phones[0] if record and record.phones else None)
    email = (profile.email if profile else None) or (record.emails[0] if record and record.emails else None)
    account = record.accounts[0].account_number if record and record.accounts else None
    return KnownData(phone, email, account)
