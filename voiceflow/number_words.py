"""The spoken-number vocabulary recognisers write, shared by the NLU's readers and the redactor.

A leaf module on purpose: the redactor runs on every log line and must not import the NLU
package (its tiers and models) to learn what "oh" or "double" means.
"""

from __future__ import annotations

__all__ = ["DIGIT_WORDS", "REPEATERS", "TEENS"]

#: a single spoken digit ("oh" and "o" as in "one oh two")
DIGIT_WORDS: dict[str, str] = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
#: "double five" is 55
REPEATERS: dict[str, int] = {"double": 2, "triple": 3}
TEENS: dict[str, int] = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
