"""Where careflow's shipped files live: inside the installed package.

In a checkout `careflow/rules` and `careflow/templates` are links to the top-level
folders the design card fixes; in a wheel they are real package data.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
RULES_DIR = PACKAGE_DIR / "rules"
DEMO_DATA_DIR = PACKAGE_DIR / "demo" / "data"
