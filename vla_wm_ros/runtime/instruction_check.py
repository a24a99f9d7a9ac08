"""Cheap checks an instruction must pass before it is grounded.

The sentence encoder would happily embed anything; these checks turn away what is not a
sentence at all (empty, oversized, control or invisible formatting characters, symbols
with no words) with a reason a person can act on. Whether a real sentence names a task is
the grounder's decision (confidence threshold), not this module's. ROS-free.
"""

from __future__ import annotations

import unicodedata

# Whitespace a typed or pasted instruction may legitimately contain.
_ALLOWED_CONTROL = {"\t", "\n", "\r"}
# Below this share of letters among the non-space characters it is not language.
MIN_LETTER_SHARE = 0.5


def instruction_problem(text: str, max_chars: int) -> str | None:
    """Why `text` cannot be an instruction, or None when it may go to the grounder."""
    if len(text) > max_chars:
        return f"instruction too long: {len(text)} characters (at most {max_chars})"
    if not text.strip():
        return "empty instruction"
    for position, char in enumerate(text):
        category = unicodedata.category(char)
        if (category == "Cc" and char not in _ALLOWED_CONTROL) or category in ("Cf", "Cs"):
            return (
                f"instruction contains control character U+{ord(char):04X} at position {position}"
            )
    visible = [c for c in text if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    if letters == 0:
        return "instruction has no words"
    if letters / len(visible) < MIN_LETTER_SHARE:
        return f"instruction is mostly symbols ({letters} letters of {len(visible)} characters)"
    return None
