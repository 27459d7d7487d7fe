"""careflow: rules and durable workflows for automated customer care."""

__version__ = "0.1.0"
