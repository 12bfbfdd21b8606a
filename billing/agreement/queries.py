"""Read side of the agreement: its versions, the one in effect on a day, its terms as values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.agreement.models import AgreementShare, AgreementVersion
from billing.agreement.split import Terms
from billing.errors import N_, InvalidRequestError, NotFoundError
from billing.parties.models import Party


class NoAgreementError(InvalidRequestError):
    pass


def _loaded() -> object:
    return selectinload(AgreementVersion.shares).options(
        selectinload(AgreementShare.segment), selectinload(AgreementShare.party)
    )


def list_versions(session: Session) -> list[AgreementVersion]:
    """Every version, the latest first, with its shares."""
    stmt = (
        select(AgreementVersion)
        .options(_loaded())  # type: ignore[arg-type]
        .order_by(AgreementVersion.effective_from.desc())
    )
    return list(session.execute(stmt).scalars())


def get_version(session: Session, version_id: int) -> AgreementVersion:
    version = session.get(AgreementVersion, version_id, options=[_loaded()])  # type: ignore[list-item]
    if version is None:
        raise NotFoundError(N_("agreement version %(id)s not found"), id=version_id)
    return version


def version_on(session: Session, day: date) -> AgreementVersion:
    """The version in effect on `day`: the latest one starting on or before it."""
    stmt = (
        select(AgreementVersion)
        .options(_loaded())  # type: ignore[arg-type]
        .where(AgreementVersion.effective_from <= day)
        .order_by(AgreementVersion.effective_from.desc())
        .limit(1)
    )
    version = session.execute(stmt).scalar_one_or_none()
    if version is None:
        raise NoAgreementError(
            N_(
                "no cooperation agreement is in effect on %(day)s: "
                "an administrator records one on the agreement page"
            ),
            day=day.isoformat(),
        )
    return version


def parties_in_order(session: Session) -> list[Party]:
    """The parties in the agreement's listing order (ties in a split go to the first)."""
    return list(session.execute(select(Party).order_by(Party.listing_order, Party.id)).scalars())


def terms_of(version: AgreementVersion, parties: list[Party]) -> Terms:
    shares: dict[int, dict[int, Decimal]] = {}
    for share in version.shares:
        shares.setdefault(share.segment_id, {})[share.party_id] = share.share_percent
    return Terms(
        parties=tuple(p.id for p in parties),
        commission_percent=version.commission_percent,
        commission_kinds=frozenset(version.commission_kind_list),
        whole_kinds=frozenset(version.whole_kind_list),
        shares=shares,
    )
