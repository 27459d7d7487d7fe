"""Broadcasts: one-off campaigns to a segment (rules/campaigns/NAME.campaign.yaml).

`spec` reads and checks the campaign files, `audience` decides for each member
what the send step would (preview), `client` launches, cancels and reports on the
campaign workflow (workflows/campaign.py), which sends through the one send step.
"""
