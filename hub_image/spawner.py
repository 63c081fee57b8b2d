"""Each user's JupyterLab runs in this container, as that user's own Unix account."""

import asyncio
import pwd

from jupyterhub.spawner import LocalProcessSpawner

from hub_image.accounts import ensure_account
from users.names import account_name_for


class AccountSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that makes the account first, and knows hub and Unix names differ."""

    async def start(self):
        # Accounts are made here, not at login: /etc/passwd is lost with every new container.
        # In a worker thread: useradd and the scan of /home must not stall the hub's event loop.
        # The identity that logged in with this name (see bind_identity) owns its home.
        owner = (self.user.user_info or {}).get("sub")
        await asyncio.to_thread(ensure_account, self.user.name, owner)
        return await super().start()

    def make_preexec_fn(self, name):
        return super().make_preexec_fn(account_name_for(name))

    def user_env(self, env):
        account = pwd.getpwnam(account_name_for(self.user.name))
        env.update(USER=account.pw_name, HOME=account.pw_dir, SHELL=account.pw_shell)
        return env
