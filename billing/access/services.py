"""Staff users and customers' API keys."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select, update
from sqlalchemy.orm import Session, selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from billing.access.models import ApiKey, Role, User, new_session_token
from billing.access.queries import KEY_COLUMNS, api_key_rows
from billing.audit import record
from billing.errors import N_, ConflictError, InvalidRequestError, NotFoundError, Text
from billing.parties.models import Customer, Party

KEY_PREFIX = "tcf_"
MIN_PASSWORD_LENGTH = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A fixed hash to compare against when the user does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-real-password-at-all")


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def get_party(session: Session, code: str) -> Party:
    party = session.execute(select(Party).where(Party.code == code)).scalar_one_or_none()
    if party is None:
        raise NotFoundError(
            N_("unknown party %(code)s"),
            {"party": [Text(N_("no party %(code)s"), code=repr(code))]},
            code=repr(code),
        )
    return party


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    role: str,
    party_code: str,
    actor: str,
    now: datetime,
    hash_method: str = "scrypt",
) -> User:
    """A staff login of a party."""
    errors: dict[str, list[str]] = (
        {}
        if role in STAFF_ROLES
        else {"role": [Text(N_("role must be one of %(roles)s"), roles=", ".join(STAFF_ROLES))]}
    )
    email = _check_login(email, password, errors, N_("the user cannot be created as given"))
    party = get_party(session, party_code)
    return _add_login(
        session,
        User(email=email, role=role, party_id=party.id),
        name=name,
        password=password,
        audit={"party": party.code},
        actor=actor,
        now=now,
        hash_method=hash_method,
    )


def _check_login(email: str, password: str, errors: dict[str, list[str]], message: str) -> str:
    """The email as stored; refuses a malformed email or a short password, with `errors`."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        errors["email"] = [N_("not an email address")]
    errors.update(_password_errors(password))
    if errors:
        raise InvalidRequestError(message, errors)
    return email


def _add_login(
    session: Session,
    user: User,
    *,
    name: str,
    password: str,
    audit: dict[str, str],
    actor: str,
    now: datetime,
    hash_method: str,
) -> User:
    """Store a new login (staff or portal) with its hashed password, and audit it."""
    _email_free(session, user.email)
    user.name = name.strip() or user.email
    user.password_hash = generate_password_hash(password, method=hash_method)
    user.active = True
    user.created_at = now
    session.add(user)
    session.flush()
    record(
        session,
        actor=actor,
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        now=now,
        after={"email": user.email, "role": user.role, **audit},
    )
    return user


STAFF_ROLES = tuple(r.value for r in Role if r is not Role.CUSTOMER)


def _password_errors(password: str) -> dict[str, list[str]]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return {"password": [_at_least_characters()]}
    return {}


def _at_least_characters() -> Text:
    return Text(N_("at least %(count)s characters"), count=MIN_PASSWORD_LENGTH)


def _email_free(session: Session, email: str) -> None:
    if session.execute(select(User.id).where(User.email == email)).first():
        raise ConflictError(
            N_("a user %(email)s already exists"), {"email": [N_("already taken")]}, email=email
        )


def create_portal_login(
    session: Session,
    *,
    customer_id: int,
    email: str,
    name: str,
    password: str,
    actor: str,
    now: datetime,
    hash_method: str = "scrypt",
) -> User:
    """A login for a customer's staff on the portal: it sees that one customer only. The same
    password rules, throttling and session rules as a staff login."""
    email = _check_login(email, password, {}, N_("the login cannot be created as given"))
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(N_("customer %(id)s not found"), id=customer_id)
    return _add_login(
        session,
        User(email=email, role=Role.CUSTOMER.value, party_id=None, customer_id=customer.id),
        name=name,
        password=password,
        audit={"customer": customer.legal_name},
        actor=actor,
        now=now,
        hash_method=hash_method,
    )


def portal_logins_of(session: Session, customer_id: int) -> list[User]:
    return list(
        session.execute(
            select(User).where(User.customer_id == customer_id).order_by(User.email)
        ).scalars()
    )


def authenticate(session: Session, email: str, password: str, *, now: datetime) -> User | None:
    user = session.execute(
        select(User)
        .where(User.email == email.strip().lower())
        .options(selectinload(User.party), selectinload(User.customer))
    ).scalar_one_or_none()
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = now
    record(
        session,
        actor=user.label,
        action="user.login",
        entity_type="user",
        entity_id=user.id,
        now=now,
    )
    return user


def user_for_session(session: Session, token: str) -> User | None:
    """The active user whose current session token this is: a token replaced by a logout, a
    password change or a deactivation finds no one."""
    return session.execute(
        select(User)
        .where(User.session_token == token, User.active.is_(True))
        .options(selectinload(User.party), selectinload(User.customer))
    ).scalar_one_or_none()


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(N_("no user %(id)s"), id=user_id)
    return user


def log_out(session: Session, user: User, *, now: datetime) -> None:
    """End every session of the user, this one and any copy of its cookie."""
    user.session_token = new_session_token()
    record(
        session,
        actor=user.label,
        action="user.logout",
        entity_type="user",
        entity_id=user.id,
        now=now,
    )


def deactivate_user(
    session: Session, user_id: int, *, actor: str, actor_id: int, now: datetime
) -> User:
    """The user can no longer log in, and every session of theirs ends at once."""
    user = _user(session, user_id)
    if user.id == actor_id:
        raise ConflictError(N_("you cannot deactivate yourself; another administrator can"))
    if user.active:
        user.session_token = new_session_token()
        _set_active(session, user, False, actor=actor, now=now)
    return user


def reactivate_user(session: Session, user_id: int, *, actor: str, now: datetime) -> User:
    user = _user(session, user_id)
    if not user.active:
        _set_active(session, user, True, actor=actor, now=now)
    return user


def _set_active(session: Session, user: User, active: bool, *, actor: str, now: datetime) -> None:
    user.active = active
    record(
        session,
        actor=actor,
        action="user.reactivate" if active else "user.deactivate",
        entity_type="user",
        entity_id=user.id,
        now=now,
        before={"active": not active},
        after={"active": active},
    )


def reset_password(
    session: Session,
    user_id: int,
    password: str,
    *,
    actor: str,
    now: datetime,
    hash_method: str = "scrypt",
) -> User:
    """Set a new password; every session made with the old one ends."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(
            N_("the password is too short"), {"password": [_at_least_characters()]}
        )
    user = _user(session, user_id)
    user.password_hash = generate_password_hash(password, method=hash_method)
    user.session_token = new_session_token()
    # What changed, never the hash.
    record(
        session,
        actor=actor,
        action="user.password_reset",
        entity_type="user",
        entity_id=user.id,
        now=now,
    )
    return user


def create_api_key(
    session: Session, *, customer_id: int, name: str, actor: str, now: datetime
) -> tuple[ApiKey, str]:
    """Make a key; returns the row and the key itself (never stored, never shown again)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(N_("no customer %(id)s"), id=customer_id)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        customer_id=customer.id,
        name=name.strip() or "API key",
        prefix=secret[:12],
        key_hash=hash_api_key(secret),
        created_at=now,
        created_by=actor,
    )
    session.add(key)
    session.flush()
    record(
        session,
        actor=actor,
        action="api_key.create",
        entity_type="api_key",
        entity_id=key.id,
        now=now,
        after={"customer_id": customer.id, "name": key.name, "prefix": key.prefix},
    )
    return key, secret


def revoke_api_key(session: Session, key_id: int, *, actor: str, now: datetime) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFoundError(N_("no API key %(id)s"), id=key_id)
    if key.revoked_at is None:
        key.revoked_at = now
        record(
            session,
            actor=actor,
            action="api_key.revoke",
            entity_type="api_key",
            entity_id=key.id,
            now=now,
            before={"revoked": False},
            after={"revoked": True},
        )
    return key


@dataclass(frozen=True)
class ApiCaller:
    """Who is calling the API: the key and the customer it speaks for."""

    key_id: int
    prefix: str
    customer_id: int
    customer_name: str
    owner_party_id: int
    last_used_at: datetime | None


def caller_for_secret(session: Session, secret: str) -> ApiCaller | None:
    """The caller of a live key matching this secret, or None. Compares hashes in constant time."""
    return caller_and_rows(session, secret)[0]


def caller_and_rows(
    session: Session,
    secret: str,
    alongside: Select[*tuple[Any, ...]] | None = None,
    params: Mapping[str, Any] | None = None,
) -> tuple[ApiCaller | None, list[tuple[Any, ...]]]:
    """The caller of a live key matching this secret (or None), and the rows of `alongside`
    read in the same statement (see `api_key_rows`): one round trip for both. A refused key
    gets no rows. The key is read on every call, so a revoked key is refused at once."""
    if not secret.startswith(KEY_PREFIX):
        return None, []
    digest = hash_api_key(secret)
    rows = api_key_rows(session, digest, alongside, params)
    if not rows:
        return None, []
    key: Row[*tuple[Any, ...]] = rows[0]
    if not hmac.compare_digest(key[1], digest) or key[3] is not None:
        return None, []
    key_id, _, prefix, _, last_used_at, customer_id, name, party_id = key[: len(KEY_COLUMNS)]
    caller = ApiCaller(key_id, prefix, customer_id, name, party_id, last_used_at)
    if alongside is None:
        return caller, []
    return caller, [tuple(row[len(KEY_COLUMNS) :]) for row in rows]


def record_api_key_use(session: Session, key_id: int, at: datetime) -> None:
    """Stamp when a key was last used (kept to the minute by the caller)."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at))
