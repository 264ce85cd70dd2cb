"""The Mini App's memory of the writes it accepted (replay protection, shared by replicas) and
of the download links it handed out (shared by replicas too: any of them serves the link)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime


class MiniAppWrite(Base):
    """One accepted state-changing request: the SHA-256 of its initData signature, path and
    body (web.initdata.write_key), kept until that initData expires. Nothing personal."""

    __tablename__ = "miniapp_writes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class MiniAppDownload(Base):
    """One single-use download link (the moderators' CSV): the SHA-256 of its random token
    (the token itself is never stored), the moderator it was made for, the group whose roster
    it serves and when it stops working. Deleted when used; expired ones are dropped."""

    __tablename__ = "miniapp_downloads"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
