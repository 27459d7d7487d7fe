"""Secrets come from the environment (or are generated per installation), never from the repo.

The key that signs unsubscribe and survey links and console sessions used to
default to a string in the code: anyone who read the code could forge a link for
any customer. Now it is CAREFLOW_SECRET_KEY, or a random key generated once into
the home folder, readable by its owner only. And no file in the repository may
carry a credential.
"""

from __future__ import annotations

import math
import re
import shutil
import stat
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from careflow.config import KEY_FILE_NAME, Settings
from careflow.outreach.links import InvalidLinkToken, unsubscribe_token, verify_unsubscribe_token

REPO = Path(__file__).resolve().parents[2]

# Credentials with a recognisable shape: finding one is a leak whatever its name.
KNOWN_FORMATS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Stripe live key": re.compile(r"\b[rs]k_live_[0-9A-Za-z]{20,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
}
# user:password@ in a URL; the password may be a placeholder like `pass` or ${VAR}.
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/:@'\"`]+:([^\s/@'\"`]+)@", re.IGNORECASE)
PLACEHOLDER_PASSWORDS = {"pass", "password", "secret", "changeme", "xxx", "***"}
# A string literal given to a name that says it is secret.
SECRET_ASSIGNMENT = re.compile(
    r"(secret|passw(or)?d|token|api_?key|credential)\w*['\"]?\s*[:=]\s*[rbf]?['\"]([^'\"\s]+)['\"]",
    re.IGNORECASE,
)
# Files that may not be committed at all, whatever they hold.
FORBIDDEN_FILES = re.compile(r"(^|/)(\.env(\..+)?|id_[rd]sa|.+\.pem|.+\.p12|.+\.key)$")
# Generated per installation; never part of the repository.
LOCAL_STATE = re.compile(rf"(^|/)(var/|{KEY_FILE_NAME}$)")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_random(value: str) -> bool:
    """Long and random like a generated key, not a word or a test fixture's `test-secret`."""
    return len(value) >= 16 and entropy(value) >= 3.5 and not value.startswith(("${", "<"))


def tracked_files() -> list[str]:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    result = subprocess.run(
        [git, "ls-files"], cwd=REPO, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"not a git checkout: {result.stderr.strip()}")
    return result.stdout.splitlines()


def text_lines() -> Iterator[tuple[str, int, str]]:
    """(path, line number, line) of every tracked text file."""
    for name in tracked_files():
        path = REPO / name
        if not path.is_file():
            continue  # deleted in the working tree
        content = path.read_bytes()
        if b"\0" in content[:8192]:
            continue  # binary
        for number, line in enumerate(content.decode("utf-8", "replace").splitlines(), 1):
            yield name, number, line


def test_no_credentials_are_committed() -> None:
    leaks = []
    for name, number, line in text_lines():
        where = f"{name}:{number}"
        leaks += [f"{where}: {kind}" for kind, shape in KNOWN_FORMATS.items() if shape.search(line)]
        for match in URL_PASSWORD.finditer(line):
            if match.group(1).lower() not in PLACEHOLDER_PASSWORDS and "{" not in match.group(1):
                leaks.append(f"{where}: password in a URL")
        for match in SECRET_ASSIGNMENT.finditer(line):
            if looks_random(match.group(3)):
                leaks.append(f"{where}: random-looking value for {match.group(1)!r}")
    assert leaks == []


def test_no_secret_files_or_local_state_are_committed() -> None:
    committed = [
        name for name in tracked_files() if FORBIDDEN_FILES.search(name) or LOCAL_STATE.search(name)
    ]
    assert committed == []


def test_the_scan_finds_what_it_looks_for() -> None:
    # The patterns above are only as good as what they catch: a fixture of leaks.
    aws = "AKIA" + "IOSFODNN7EXAMPLE"
    assert KNOWN_FORMATS["AWS access key id"].search(f"key = {aws}")
    url = URL_PASSWORD.search("postgresql://app:" + "Zq8vR2xLw9@db.internal/care")
    assert url is not None
    assert url.group(1) == "Zq8vR2xLw9"
    assigned = SECRET_ASSIGNMENT.search('SECRET_KEY = "' + 'q3Vt9ZkP2mXa7LbR4sWd"')
    assert assigned is not None
    assert looks_random(assigned.group(3))
    assert not looks_random("test-secret")
    assert not looks_random("careflow-embedded")


def test_the_signing_key_is_generated_per_installation(tmp_path: Path) -> None:
    first = Settings(home=tmp_path / "one")
    second = Settings(home=tmp_path / "two")
    assert first.secret_key != second.secret_key
    assert len(first.secret_key) >= 32
    key_file = tmp_path / "one" / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, "readable by its owner only"
    # The same installation keeps its key: links in sent mail keep working.
    assert Settings(home=tmp_path / "one").secret_key == first.secret_key
    # A link signed by one installation means nothing to another.
    token = unsubscribe_token(first.secret_key, "c-1", "marketing")
    with pytest.raises(InvalidLinkToken):
        verify_unsubscribe_token(second.secret_key, token)


def test_no_key_shipped_in_the_code_is_ever_used(tmp_path: Path) -> None:
    key = Settings(home=tmp_path / "var").secret_key
    shipped = "\n".join(line for _, _, line in text_lines())
    assert key not in shipped
    assert Settings.model_fields["configured_secret_key"].default is None


def test_the_environment_decides_when_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREFLOW_SECRET_KEY", "from-the-environment")
    settings = Settings(home=tmp_path / "var")
    assert settings.secret_key == "from-the-environment"
    assert not (tmp_path / "var" / KEY_FILE_NAME).exists(), "nothing generated when configured"
