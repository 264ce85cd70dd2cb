"""The Mini App's memory of the writes it accepted (replay protection, shared by replicas)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime


class MiniAppWrite(Base):
    """One accepted state-changing request: the SHA-256 of its initData signature, path and
    body (web.initdata.write_key), kept until that initData expires. Nothing personal."""

    __tablename__ = "miniapp_writes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
