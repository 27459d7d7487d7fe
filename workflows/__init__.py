"""careflow's durable journeys: one workflow per module, ids built in ids.py."""
