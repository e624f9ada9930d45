"""Users, roles, API tokens and the audit chain check (admin), and who am I (everyone)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import Id, In
from ivig.records import audit
from ivig.records.models import Role
from ivig.records.services import accounts
from ivig.records.services.access import roles_of
from ivig.records.services.common import get
from ivig.records.tokens import DEFAULT_DAYS, MAX_DAYS

router = Router(tags=["accounts"])


class UserIn(In):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1)
    roles: list[str]
    first_name: str = ""
    last_name: str = ""


class RolesIn(In):
    roles: list[str]


class ActiveIn(In):
    active: bool


class UserOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    is_active: bool
    roles: list[str]


class TokenIn(In):
    user_id: int
    name: str = Field(..., min_length=1, max_length=100)
    days: int = Field(DEFAULT_DAYS, ge=1, le=MAX_DAYS, description="days until it expires")
    roles: list[str] | None = Field(
        None, description="the roles it carries, each one its user's (default: all of them)"
    )


def user_out(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": user.is_active,
        "roles": sorted(user.groups.values_list("name", flat=True)),
    }


@router.get("/me", response=UserOut, **rule(*EVERYONE))
def me(request: HttpRequest) -> dict[str, Any]:
    # the roles this request acts with: a token's are those it carries (issue 17 item 17)
    return {**user_out(request.user), "roles": sorted(roles_of(request.user))}  # type: ignore[arg-type]


@router.get("/users", response=list[UserOut], **rule(Role.admin))
def list_users(request: HttpRequest) -> list[dict[str, Any]]:
    return [user_out(u) for u in User.objects.order_by("username")]


@router.post("/users", response={201: UserOut}, **rule(Role.admin))
def create_user(request: HttpRequest, data: UserIn) -> Status[dict[str, Any]]:
    user = accounts.create_user(
        request.user,
        data.username,
        data.password,
        data.roles,
        first_name=data.first_name,
        last_name=data.last_name,
    )
    return Status(201, user_out(user))


@router.put("/users/{user_id}/roles", response=UserOut, **rule(Role.admin))
def set_roles(request: HttpRequest, user_id: Id, data: RolesIn) -> dict[str, Any]:
    return user_out(accounts.set_roles(request.user, user_id, data.roles))


@router.put("/users/{user_id}/active", response=UserOut, **rule(Role.admin))
def set_active(request: HttpRequest, user_id: Id, data: ActiveIn) -> dict[str, Any]:
    return user_out(accounts.set_active(request.user, user_id, data.active))


@router.post("/users/{user_id}/unlock", response=dict[str, Any], **rule(Role.admin))
def unlock(request: HttpRequest, user_id: Id) -> dict[str, Any]:
    """Lift the user's sign-in lockout (5 failures in 15 minutes) before it ends; audited."""
    user = get(User, user_id, "user")
    cleared = accounts.unlock(request.user, user.username)
    return {"username": user.username, "failed_attempts_cleared": cleared}


@router.post("/tokens", response={201: dict[str, Any]}, **rule(Role.admin))
def create_token(request: HttpRequest, data: TokenIn) -> Status[dict[str, Any]]:
    """A token expires after ``days`` (default 90, at most 365) and carries ``roles`` (default:
    its user's); it acts with those its user still holds."""
    token, raw = accounts.create_token(
        request.user, data.user_id, data.name, days=data.days, roles=data.roles
    )
    return Status(
        201,
        {"id": token.pk, "name": token.name, "token": raw, "note": "shown once: store it now",
         "expires_at": token.expires_at, "roles": token.roles},
    )  # fmt: skip


@router.post("/tokens/{token_id}/revoke", response=dict[str, Any], **rule(Role.admin))
def revoke_token(request: HttpRequest, token_id: Id) -> dict[str, Any]:
    token = accounts.revoke_token(request.user, token_id)
    return {"id": token.pk, "revoked_at": token.revoked_at}


@router.get("/audit/verify", response=dict[str, Any], **rule(Role.admin))
def verify_audit(request: HttpRequest) -> dict[str, Any]:
    report = audit.verify_chain()
    return {
        "ok": report.ok,
        "checked": report.checked,
        "first_bad_seq": report.first_bad_seq,
        "problem": report.problem,
    }
