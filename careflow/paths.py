"""Where careflow's shipped files live, resolved once from the source tree."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
RULES_DIR = PROJECT_ROOT / "rules"
DEMO_DATA_DIR = Path(__file__).resolve().parent / "demo" / "data"
