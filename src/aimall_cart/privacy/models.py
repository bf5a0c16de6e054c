"""What a member has told us about contacting them. Email and name are sealed at rest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from aimall_cart.db import Base


class Preferences(Base):
    __tablename__ = "customer_preferences"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    # AES-GCM with the user id as associated data, so a sealed value cannot be moved to another row.
    email_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    channels: Mapped[list[str]] = mapped_column(JSON)
    # IANA zone name; quiet hours are the customer's local hours.
    timezone: Mapped[str | None] = mapped_column(String(64))
    consent_updated_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
