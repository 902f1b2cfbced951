"""The cabinet's one table: secret links, stored as hashes of their tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.models import Base


class CabinetLink(Base):
    """One company's cabinet link. The token is never stored, only its SHA-256."""

    __tablename__ = "cabinet_links"
    __table_args__ = (Index("ix_cabinet_links_company", "company_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"))
    #: hex SHA-256 of the token (a lookup by equality, never a scan)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    #: None: valid until revoked
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
