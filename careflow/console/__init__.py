"""The operations console: server-rendered pages under /console/ of the HTTP API.

Overview (KPIs and charts), rules (status, firings, explanations), customers
(timeline, explain, consent), staff tasks, and for admins users and the audit log;
in English and Chinese. `mount_console(app)` adds it to the API app; users are
made with `careflow users add NAME --role admin|operator|viewer`.
"""

from careflow.console.mount import mount_console
from careflow.console.roles import Role

__all__ = ["Role", "mount_console"]
