"""Outbound HTTP: signed webhooks to subscribers and alerts to staff group robots.

events.py    careflow's events, written to the `outbound_events` outbox with the change
config.py    rules/webhooks.yaml (subscribers) and rules/staff_alerts.yaml (team robots)
outbox.py    fanning events out into deliveries, claiming and finishing them, pausing
senders.py   one attempt: Standard Webhooks signing, WeCom, DingTalk (signed), Slack
proxies.py   which proxy a delivery goes through (HTTP(S)_PROXY, NO_PROXY), read once
dispatcher.py  the loop every worker runs
"""
