"""Channels besides email: SMS (providers, phone numbers, segments, templates, config).

phone.py     phone numbers to E.164 with `phonenumbers`, or a clear refusal
segments.py  how many SMS segments a text takes (GSM-7 or UCS-2)
config.py    rules/sms.yaml: the provider, the registered signature, template codes
providers.py the provider adapters behind one interface: a generic HTTP gateway and
             Alibaba Cloud SMS (its published RPC API and signature)
replies.py   inbound replies that opt out (T, TD, 退订, R) and delivery receipts
"""
