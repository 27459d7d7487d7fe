"""What an SMS reply means: the opt-out words Chinese operators and customers use."""

from __future__ import annotations

import unicodedata

# Replies that withdraw SMS marketing consent: 退订 (unsubscribe), T / TD (退订's
# initials) and R (拒收, "refuse"), as the opt-out texts "回T退订" / "拒收请回复R" ask.
OPT_OUT_WORDS = frozenset({"T", "TD", "R", "退订"})


def is_opt_out(reply: str) -> bool:
    """Whether a reply is an opt-out: one of the words alone, any case, full- or half-width,
    with spaces or punctuation around it."""
    text = unicodedata.normalize("NFKC", reply).strip().upper()
    text = text.strip(" .,!?;:。，！？；：、\"'“”")
    return text in OPT_OUT_WORDS
