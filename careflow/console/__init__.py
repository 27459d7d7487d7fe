"""The operations console: server-rendered pages under /console/ of the HTTP API.

Overview (KPIs and charts), rules (status, firings, explanations), customers
(timeline, explain, consent), staff tasks, and for admins users and the audit log;
in English and Chinese. `careflow.console.mount.mount_console(app)` adds it to the
API app; users are made with `careflow users add NAME --role admin|operator|viewer`.
This package's own import stays empty: the release store writes the console's audit
log, and must not pull in the pages for it (tests/test_import_graph.py).
"""
