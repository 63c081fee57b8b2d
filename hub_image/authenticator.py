"""The hub's login: Cognito through oauthenticator, with the rules that keep each user who they are.

- A hub username belongs to the identity (`sub`) that first logged in with it: a name claim can
  change hands (an existing pool's `preferred_username`, which users edit unless the app client
  forbids it; a Cognito username deleted and made again).
- The lists decide, at every start: a user already in the hub's database whom they no longer admit
  is removed (JupyterHub's own `delete_invalid_users`), ending their sessions and tokens; their
  server, on no record now, is stopped by the orphans service's first round (hub_image/orphans.py).
- With auth state kept (JUPYTERHUB_CRYPT_KEY), each user's tokens are renewed every
  `auth_refresh_age` seconds and a login's checks run again, so leaving a Cognito group bites.
  A refresh Cognito refuses (a 4xx from its token endpoint: a user disabled or deleted, a token
  revoked) is a refusal: their servers stop and they must log in again. One that fails (no answer,
  a 5xx) leaves their servers running, and the next request tries again.
- With the lists in S3 (`user_lists_url`), they are read again every
  `user_lists_refresh_seconds` and a change applies at once, as a restart with them would.
"""

import asyncio
import json
from dataclasses import fields

from jupyterhub import orm, roles
from jupyterhub.utils import maybe_future, utcnow
from oauthenticator.generic import GenericOAuthenticator
from tornado import web
from tornado.httpclient import HTTPClientError
from tornado.ioloop import PeriodicCallback
from traitlets import Integer, Unicode

from hub_image.user_lists import S3Lists, UserLists
from users.names import normalise_username

# A 4xx that says "not now" rather than "no": Cognito throttling, or a timeout on its side.
TRY_AGAIN_STATUSES = {408, 429}


class CognitoAuthenticator(GenericOAuthenticator):
    user_lists_url = Unicode(
        "",
        help="s3://bucket/key of the lists, read again while the hub runs; empty: they are fixed",
    ).tag(config=True)
    user_lists_refresh_seconds = Integer(
        help="Seconds between reads of user_lists_url (the config sets it, default and all)"
    ).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Users created before this moment came from an earlier start: the lists must admit them.
        self.started = utcnow(with_tz=False)
        if self.user_lists_url:
            self.start_refreshing_lists()

    def normalize_username(self, username):
        """users/names.py's rule, not str.lower(), which turns other letters into a-z too."""
        return normalise_username(username)

    def admits(self, username: str, groups: list[str]) -> bool:
        """Whether the lists (or the allowed and admin groups) let this user in."""
        if username in self.admin_users or username in self.allowed_users:
            return True
        return self.manage_groups and bool(set(groups) & (self.allowed_groups | self.admin_groups))

    def makes_admin(self, username: str, groups: list[str]) -> bool:
        """Whether the lists (or the admin groups) make this user an admin."""
        return username in self.admin_users or (
            self.manage_groups and bool(set(groups) & self.admin_groups)
        )

    def start_refreshing_lists(self) -> None:
        """Read the lists' object again every user_lists_refresh_seconds, in the hub's event loop.

        JupyterHub makes its authenticator inside its running loop, so a periodic callback started
        here runs for the hub's life, as JupyterHub's own periodic jobs do.
        """
        # The lists the config read at start: what the hub applies until the object changes.
        self.applied_lists = UserLists(
            *map(
                frozenset,
                (self.admin_users, self.allowed_users, self.admin_groups, self.allowed_groups),
            )
        )
        self.lists_object = S3Lists(self.user_lists_url)
        self.lists_refresh = PeriodicCallback(
            self.refresh_lists, 1000 * self.user_lists_refresh_seconds
        )
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # made outside a hub (a test): there is no hub to refresh
        self.lists_refresh.start()

    async def refresh_lists(self) -> None:
        """Read the object (a conditional GET, off the event loop); apply new good lists at once."""
        hub = self.parent
        # Users are removed as the REST API removes them, so not before the hub serves that API.
        if getattr(hub, "http_server", None) is None:
            return
        try:
            await asyncio.to_thread(self.lists_object.refresh, self.log)
            lists = self.lists_object.lists
            if lists is not None and lists != self.applied_lists:
                if await self.apply_lists(hub, lists):
                    self.applied_lists = lists
        except Exception:
            self.log.exception("Applying the user lists from %s failed", self.user_lists_url)

    async def apply_lists(self, hub, lists: UserLists) -> bool:
        """Make the running hub follow new lists as a restart with them would: new names may log
        in, users no longer admitted are removed, admin follows the lists. False if a removal
        failed; the next refresh tries again."""
        self.log.info(
            "New user lists from %s: %s", self.user_lists_url, changes(self.applied_lists, lists)
        )
        replace(self.admin_users, lists.admin_users)
        # Admins may always log in: JupyterHub's start adds them to allowed_users too.
        replace(self.allowed_users, lists.allowed_users | lists.admin_users)
        replace(self.admin_groups, lists.admin_groups)
        replace(self.allowed_groups, lists.allowed_groups)
        complete = True
        # Groups as at each user's last login or refresh, as at start (see add_user).
        for orm_user in hub.db.query(orm.User).all():
            name, groups = orm_user.name, [group.name for group in orm_user.groups]
            if not self.admits(name, groups):
                self.log.warning("Removing %s: no longer in the hub's lists or groups", name)
                try:
                    await remove_user(hub, hub.users[orm_user])
                except Exception as error:
                    self.log.error(
                        "Could not remove %s yet (next refresh tries again): %s", name, error
                    )
                    complete = False
            elif orm_user.admin != self.makes_admin(name, groups):
                orm_user.admin = not orm_user.admin
                self.log.info("%s is %s an admin", name, "now" if orm_user.admin else "no longer")
                # The admin role follows the flag, as at a login.
                roles.assign_default_roles(hub.db, entity=orm_user)
                hub.db.commit()
        return complete

    def add_user(self, user):
        """At start, called for every user in the database: one the lists no longer admit goes."""
        super().add_user(user)
        earlier = (user.created or self.started) < self.started
        if earlier and not self.admits(user.name, [group.name for group in user.groups]):
            self.log.warning("Removing %s: no longer in the hub's lists or groups", user.name)
            raise ValueError(f"{user.name} is no longer in the hub's lists or groups")

    def delete_user(self, user):
        """Deleting a user on the admin page frees the name and its binding; the lists stay.

        JupyterHub's default would also drop the name from allowed_users until the next start.
        """

    async def run_post_auth_hook(self, handler, auth_model):
        """After a login passed the lists: tie the name to its identity; admin from the lists."""
        auth_model = await super().run_post_auth_hook(handler, auth_model)
        self.bind_identity(handler.find_user(auth_model["name"]), auth_model)
        return admin_only_if_listed(auth_model)

    def bind_identity(self, user, auth_model) -> None:
        """Refuse a login whose `sub` differs from the one this username is bound to; else bind."""
        name = auth_model["name"]
        user_info = auth_model["auth_state"].get(self.user_auth_state_key) or {}
        sub = user_info.get("sub")
        if not isinstance(sub, str) or not sub:
            raise web.HTTPError(
                403,
                f"{self.login_service} sent no 'sub' for {name!r}; the hub cannot tell who it is",
            )
        bound = ((user.user_info if user else None) or {}).get("sub")
        if bound not in (None, sub):
            raise web.HTTPError(
                403,
                f"The hub username {name!r} is already bound to another {self.login_service} "
                f"account. An admin can release it by deleting the user {name!r} on the hub's "
                "admin page.",
            )
        # Kept in the user's record (user_info), so deleting the user releases the name.
        auth_model["user_info"] = {"sub": sub}

    async def refresh_user(self, user, handler=None, **kwargs):
        """Every auth_refresh_age: new tokens from the refresh token, then a login's checks again.

        oauthenticator's own refresh_user keeps an access token while it is valid, and with it the
        ID token's old `cognito:groups`; this always renews them (Cognito answers a refresh with a
        new ID token) and, unlike it, also runs check_allowed.
        """
        if not self.enable_auth_state:
            return True
        if handler is not None and not hasattr(handler, "_token_authenticated"):
            # JupyterHub 6.1.1 reads this after a False, but sets it only for token requests.
            handler._token_authenticated = False
        auth_state = await user.get_auth_state() or {}
        refresh_token = auth_state.get("refresh_token")
        if not refresh_token:
            self.log.info("No refresh token for %s: they must log in again", user.name)
            # Refused earlier: a server that was still starting then is stopped now.
            await stop_servers(user, handler)
            return False
        try:
            params = self.build_refresh_token_request_params(refresh_token)
            token_info = await self.get_token_info(handler, params)
        except Exception as error:
            refusal, answer = token_endpoint_answer(error)
            if refusal:
                await self.refuse_at_refresh(user, handler, answer, auth_state)
            else:
                self.log.warning(
                    "Could not renew %s's tokens (%s): their servers keep running; the next "
                    "refresh tries again",
                    user.name,
                    answer,
                )
            return False
        try:
            token_info["refresh_token"] = token_info.get("refresh_token") or refresh_token
            auth_model = await self._token_to_auth_model(token_info)
            if auth_model["name"] != user.name:
                raise web.HTTPError(403, f"their username is now {auth_model['name']!r}")
            self.bind_identity(user, auth_model)
            if not await self.check_allowed(user.name, auth_model):
                raise web.HTTPError(403, "no longer in the hub's lists or groups")
        except web.HTTPError as refusal:
            await self.refuse_at_refresh(user, handler, refusal.log_message, auth_state)
            return False
        except Exception as error:
            self.log.warning(
                "Could not check %s's renewed tokens (%s: %s): their servers keep running; the "
                "next refresh tries again",
                user.name,
                type(error).__name__,
                error,
            )
            return False
        return admin_only_if_listed(auth_model)

    async def refuse_at_refresh(self, user, handler, reason: str, auth_state: dict) -> None:
        """A refusal at refresh: their servers stop; no refresh token is kept, so they log in."""
        self.log.warning(
            "Refusing %s at refresh (%s): stopping their servers; they must log in again",
            user.name,
            reason,
        )
        await user.save_auth_state({**auth_state, "refresh_token": None})
        await stop_servers(user, handler)


def token_endpoint_answer(error: Exception) -> tuple[bool, str]:
    """Whether a failed token request is Cognito saying no (a 4xx), and what it said, in words."""
    response = getattr(error, "response", None)
    if isinstance(error, HTTPClientError) and response is not None:
        said = ""
        try:
            body = json.loads(response.body)
            said = f": {body.get('error')} ({body.get('error_description', '')})"
        except (ValueError, AttributeError, TypeError):
            pass
        refused = 400 <= error.code < 500 and error.code not in TRY_AGAIN_STATUSES
        return refused, f"the token endpoint answered {error.code}{said}"
    if isinstance(error, web.HTTPError) and error.status_code == 403:
        # oauthenticator's word for a 200 answer that carries an error_description.
        return True, f"the token endpoint answered with an error: {error.log_message}"
    return False, f"no usable answer from the token endpoint: {type(error).__name__}: {error}"


def admin_only_if_listed(auth_model: dict) -> dict:
    """Admin comes from the lists (or admin groups) alone: one taken off loses it next time."""
    if auth_model["admin"] is None:
        auth_model["admin"] = False
    return auth_model


def changes(old: UserLists, new: UserLists) -> str:
    """What changed between two lists, in one line: `allowed_users +['cat'] -['ben']`."""
    parts = []
    for field in fields(UserLists):
        before, after = getattr(old, field.name), getattr(new, field.name)
        added, removed = sorted(after - before), sorted(before - after)
        if added or removed:
            parts.append(f"{field.name} +{added} -{removed}")
    return "; ".join(parts)


def replace(names: set, new: frozenset) -> None:
    """Make a set hold `new` in place, never passing through empty or a mix of both."""
    names.intersection_update(new)
    names.update(new)


async def remove_user(hub, user) -> None:
    """Remove a user the lists no longer admit, as the hub's REST API DELETE does: their servers
    stop, then their record goes, and with it their sessions and API tokens."""
    for name, spawner in list(user.spawners.items()):
        if spawner.pending:
            raise RuntimeError(f"{spawner._log_name} is {spawner.pending}")
        if spawner.active:
            # As JupyterHub stops a server: out of the proxy first, then the server itself.
            await hub.proxy.delete_user(user, name)
            await user.stop(name)
    await maybe_future(hub.authenticator.delete_user(user))
    await user.delete_spawners()
    hub.users.delete(user)


async def stop_servers(user, handler) -> None:
    """Stop a refused user's running servers, as the hub's own stop button does."""
    if handler is None:
        return
    for name, spawner in list(user.spawners.items()):
        if spawner.pending:
            # JupyterHub cannot stop it halfway; their next request finds it started and stops it.
            handler.log.warning("%s is %s: it is stopped later", spawner._log_name, spawner.pending)
        elif spawner.active:
            await handler.stop_single_user(user, name)
