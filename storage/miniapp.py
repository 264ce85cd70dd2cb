"""Claiming a write once (replay protection): the Mini App's writes, /forgetme's button."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import MiniAppWrite


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
