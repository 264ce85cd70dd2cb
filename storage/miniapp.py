"""Claiming a write once (replay protection): the Mini App's writes, /forgetme's button; and
the moderators' single-use download links, kept by their token's digest only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import MiniAppDownload, MiniAppWrite


def claim_write(session: Session, key: str, expires_at: datetime, now: datetime) -> bool:
    """Remember this write; False when it was already made (a replay). Expired keys are
    dropped on the way: their initData is refused anyway."""
    session.execute(delete(MiniAppWrite).where(MiniAppWrite.expires_at <= now))
    try:
        with session.begin_nested():
            session.add(MiniAppWrite(key=key, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class Download:
    """What a download link was made for: whom, which group's roster, and when."""

    user_id: int
    chat_id: int
    created_at: datetime


def add_download(
    session: Session, digest: str, download: Download, expires_at: datetime, now: datetime
) -> None:
    """Remember a new link (by its token's digest); expired links are dropped on the way."""
    session.execute(delete(MiniAppDownload).where(MiniAppDownload.expires_at <= now))
    session.add(
        MiniAppDownload(
            digest=digest,
            user_id=download.user_id,
            chat_id=download.chat_id,
            created_at=download.created_at,
            expires_at=expires_at,
        )
    )


def take_download(session: Session, digest: str, now: datetime) -> Download | None:
    """Use a link up: what it was made for, once; None when it is unknown, used or expired.
    The row is deleted by the one statement that may count it, so of two replicas asked at
    the same moment only one serves it."""
    row = session.scalar(select(MiniAppDownload).where(MiniAppDownload.digest == digest))
    if row is None:
        return None
    found = Download(row.user_id, row.chat_id, row.created_at)
    fresh = row.expires_at > now
    taken = session.execute(
        delete(MiniAppDownload)
        .where(MiniAppDownload.digest == digest)
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) != 1 or not fresh:
        return None
    return found
