"""Writes ``pii_corpus.jsonl``: the labelled PII corpus the redaction figures are measured on.

Run ``.venv/bin/python tests/security/make_pii_corpus.py`` to regenerate it (seeded, so
the file only changes when this script does). Each line is ``{"text", "spans": [{"type",
"start", "end"}], "form"}`` with ``form`` written | spoken | negative. Values are
random (valid Luhn cards, ABA routing numbers, SSNs outside the never-issued ranges),
sentences come from many caller-style templates, and spoken forms say numbers the
ways recognisers write them (digit by digit, "double", grouped pairs, years in
pairs). Negatives are call-centre sentences full of numbers that are not PII (order
ids, prices, times, appointment dates, confirmation codes, quantities).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).with_name("pii_corpus.jsonl")
PER_FORM = 30  # examples per type per form (written, spoken)

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "twenty first",
    "twenty second",
    "twenty third",
    "twenty fourth",
    "twenty fifth",
    "twenty sixth",
    "twenty seventh",
    "twenty eighth",
]
STREETS = [
    "Main",
    "Elm",
    "Oak",
    "Maple",
    "Cedar",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Pine",
    "Sunset",
    "Highland",
    "Church",
    "River",
    "Willow",
    "Franklin",
]
SUFFIXES = [
    "Street",
    "St",
    "Avenue",
    "Ave",
    "Road",
    "Rd",
    "Boulevard",
    "Lane",
    "Drive",
    "Court",
    "Way",
    "Place",
    "Terrace",
    "Parkway",
]
NAMES = ["john", "maria", "wei", "priya", "sam", "olga", "ahmed", "lucy", "diego", "kate", "tom", "nina"]
DOMAINS = ["example.com", "gmail.com", "mail.net", "acme.org", "yahoo.com", "outlook.com", "school.edu"]


def pair_words(n: int) -> str:
    """0-99 the way a year half or a house number half is said."""
    if n < 10:
        return f"oh {ONES[n]}"
    if n < 20:
        return TEENS[n - 10]
    return TENS[n // 10] + ("" if n % 10 == 0 else f" {ONES[n % 10]}")


def say_digits(digits: str, rng: random.Random) -> str:
    """Digit by digit, sometimes with 'double'/'oh', grouped as the written form groups them."""
    words: list[str] = []
    i = 0
    while i < len(digits):
        ch = digits[i]
        if not ch.isdigit():
            i += 1
            continue
        if i + 1 < len(digits) and digits[i + 1] == ch and rng.random() < 0.3:
            words.append(f"double {ONES[int(ch)]}")
            i += 2
            continue
        words.append("oh" if ch == "0" and rng.random() < 0.3 else ONES[int(ch)])
        i += 1
    return " ".join(words)


def say_year(year: int) -> str:
    if 2000 <= year < 2010:
        return f"two thousand {ONES[year - 2000]}" if year > 2000 else "two thousand"
    return f"{pair_words(year // 100)} {pair_words(year % 100)}"


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in range(10):
        candidate = body + str(check)
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            d = int(ch)
            if i % 2:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def routing_number(rng: random.Random) -> str:
    while True:
        d = [rng.randrange(10) for _ in range(8)]
        d[0] = rng.choice([0, 1, 2, 3])
        for last in range(10):
            full = [*d, last]
            if (
                3 * (full[0] + full[3] + full[6])
                + 7 * (full[1] + full[4] + full[7])
                + full[2]
                + full[5]
                + full[8]
            ) % 10 == 0:
                return "".join(map(str, full))


def ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"


def phone(rng: random.Random) -> str:
    return f"{rng.randrange(2, 10)}{rng.randrange(10)}{rng.randrange(10)}{rng.randrange(2, 10)}" + "".join(
        str(rng.randrange(10)) for _ in range(6)
    )


# -- one generator per type: returns (written value, spoken value) --------------------------------
def gen_ssn(rng: random.Random) -> tuple[str, str]:
    value = ssn(rng)
    written = value if rng.random() < 0.7 else value.replace("-", rng.choice([" ", ""]))
    return written, say_digits(value, rng)


def gen_card(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice([("4", 16), ("51", 16), ("37", 15), ("6011", 16), ("4", 13)])
    number = luhn_complete(kind[0], kind[1], rng)
    if kind[1] == 16 and rng.random() < 0.6:
        written = rng.choice([" ", "-"]).join(number[i : i + 4] for i in range(0, 16, 4))
    else:
        written = number
    return written, say_digits(number, rng)


def gen_dob(rng: random.Random) -> tuple[str, str]:
    year, month, day = rng.randrange(1930, 2008), rng.randrange(1, 13), rng.randrange(1, 29)
    written = rng.choice(
        [
            f"{month}/{day}/{year}",
            f"{month:02d}/{day:02d}/{year}",
            f"{MONTHS[month - 1]} {day}, {year}",
            f"{MONTHS[month - 1]} {day}th {year}" if day > 3 else f"{MONTHS[month - 1]} {day} {year}",
            f"{day} {MONTHS[month - 1]} {year}",
            f"{year}-{month:02d}-{day:02d}",
        ]
    )
    spoken = rng.choice(
        [
            f"{MONTHS[month - 1].lower()} {ORDINALS[day - 1]} {say_year(year)}",
            f"the {ORDINALS[day - 1]} of {MONTHS[month - 1].lower()} {say_year(year)}",
        ]
    )
    return written, spoken


def gen_email(rng: random.Random) -> tuple[str, str]:
    name, domain = rng.choice(NAMES), rng.choice(DOMAINS)
    last = rng.choice(NAMES)
    local = rng.choice([name, f"{name}.{last}", f"{name}{rng.randrange(1, 99)}", f"{name}_{last}"])
    written = f"{local}@{domain}"
    spoken_local = local.replace(".", " dot ").replace("_", " underscore ")
    spoken_local = "".join(f" {say_digits(c, rng)} " if c.isdigit() else c for c in spoken_local)
    spoken = f"{' '.join(spoken_local.split())} at {domain.replace('.', ' dot ')}"
    return written, spoken


def gen_phone(rng: random.Random) -> tuple[str, str]:
    n = phone(rng)
    written = rng.choice(
        [
            f"({n[:3]}) {n[3:6]}-{n[6:]}",
            f"{n[:3]}-{n[3:6]}-{n[6:]}",
            f"{n[:3]}.{n[3:6]}.{n[6:]}",
            f"+1 {n[:3]} {n[3:6]} {n[6:]}",
            n,
        ]
    )
    return written, say_digits(f"{n[:3]} {n[3:6]} {n[6:]}", rng)


def gen_address(rng: random.Random) -> tuple[str, str]:
    number = rng.randrange(1, 9999)
    street, suffix = rng.choice(STREETS), rng.choice(SUFFIXES)
    unit = rng.choice(
        ["", "", f", Apt {rng.randrange(1, 40)}{rng.choice('ABC')}", f" Suite {rng.randrange(100, 999)}"]
    )
    written = f"{number} {street} {suffix}{unit}"
    said_number = (
        say_digits(str(number), rng)
        if rng.random() < 0.5 or number < 100
        else (
            f"{pair_words(number // 100)} {pair_words(number % 100)}"
            if number >= 1000
            else say_digits(str(number), rng)
        )
    )
    long_suffix = {"St": "street", "Ave": "avenue", "Rd": "road"}.get(suffix, suffix.lower())
    return written, f"{said_number} {street.lower()} {long_suffix}"


def gen_bank(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        value = routing_number(rng)
    else:
        value = "".join(str(rng.randrange(10)) for _ in range(rng.randrange(8, 15)))
    return value, say_digits(value, rng)


def gen_license(rng: random.Random) -> tuple[str, str]:
    letter = rng.choice("ABCDFGHKLMNPRSTW")
    digits = "".join(str(rng.randrange(10)) for _ in range(rng.choice([7, 8, 12])))
    written = rng.choice([f"{letter}{digits}", f"{letter}-{digits}", digits])
    return written, f"{letter.lower()} {say_digits(digits, rng)}"


def gen_passport(rng: random.Random) -> tuple[str, str]:
    digits = "".join(str(rng.randrange(10)) for _ in range(rng.choice([8, 9])))
    written = rng.choice([digits, f"{rng.choice('ACEX')}{digits[:8]}"])
    return written, say_digits(digits, rng)


def gen_ip(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.15:
        groups = [f"{rng.randrange(0x10000):x}" for _ in range(8)]
        value = ":".join(groups)
        return value, value
    octets = [rng.randrange(1, 256), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)]
    value = ".".join(map(str, octets))
    return value, " dot ".join(say_digits(str(o), rng) for o in octets)


TEMPLATES: dict[str, tuple[Callable[[random.Random], tuple[str, str]], list[str]]] = {
    "ssn": (
        gen_ssn,
        [
            "my social security number is {}",
            "SSN {}",
            "the last four won't do, my social is {}",
            "sure, social is {} thanks",
            "for verification my ssn is {}",
            "my social security is {} and my name is Ana",
        ],
    ),
    "payment_card": (
        gen_card,
        [
            "my card number is {}",
            "charge it to {} please",
            "the visa is {}",
            "card {} and that's my business card",
            "can you use the card ending, no wait, {}",
            "pay with {}",
        ],
    ),
    "date_of_birth": (
        gen_dob,
        [
            "my date of birth is {}",
            "I was born on {}",
            "DOB {}",
            "birthday is {}",
            "I was born {} in Ohio",
            "date of birth {} if you need it",
        ],
    ),
    "email": (
        gen_email,
        [
            "my email is {}",
            "send it to {}",
            "you can reach me at {} anytime",
            "email address {}",
            "it's {} thanks",
            "update my email to {} please",
        ],
    ),
    "phone": (
        gen_phone,
        [
            "call me back at {}",
            "my number is {}",
            "my phone number is {}",
            "reach me on {} after five",
            "the best number is {}",
            "text {} when it ships",
        ],
    ),
    "street_address": (
        gen_address,
        [
            "I live at {}",
            "ship it to {}",
            "my address is {}",
            "send the technician to {} tomorrow",
            "the billing address is {}",
            "deliver to {} please",
        ],
    ),
    "bank_account": (
        gen_bank,
        [
            "my routing number is {}",
            "account number {}",
            "checking account {}",
            "the bank account number is {}",
            "savings account number {} please",
            "routing {} for the refund",
        ],
    ),
    "drivers_license": (
        gen_license,
        [
            "my driver's license number is {}",
            "drivers license {}",
            "license number {}",
            "my driver's licence is {} from Texas",
            "driver's license {} expires next year",
            "DL number {}",
        ],
    ),
    "passport": (
        gen_passport,
        [
            "my passport number is {}",
            "passport {}",
            "the passport is {} issued in 2019",
            "passport number {} please",
            "use passport {} for the booking",
            "my passport reads {}",
        ],
    ),
    "ip_address": (
        gen_ip,
        [
            "my router's address is {}",
            "the IP is {}",
            "I'm connecting from {}",
            "it says {} on the screen",
            "the device at {} is offline",
            "ping {} for me",
        ],
    ),
}

NEGATIVES = [
    "where is my order {o}",
    "I ordered {q} chairs on {m} {d}",
    "can I book for {h} pm on the {dn}",
    "my confirmation number is APT-{c}",
    "it cost {p} dollars and {cents} cents",
    "order one zero {x} {y}",
    "is order {o} shipped yet",
    "I want to reschedule to {m} {d} at {h}:30",
    "the total was ${p}.{cents}",
    "I'd rate it a {r} out of five",
    "the tracking number starts with 1Z{c}",
    "I need {q} more boxes",
    "we're open from 9 to 5",
    "order number {sp}",
    "the delivery window is {h} to {h2}",
    "I called {q} times last week",
    "my appointment is on the {dn} of {m}",
    "it's been {q} days",
    "room {r}{r}{r}",
    "item {c} is out of stock",
    "version {r}.{q}.{r}",
    "the {dn} works better for me",
    "my order from {m} {d}, {y4}",
    "can you hold for {q} minutes",
    "press {r} for billing",
    "I'm calling about invoice {c}",
    "we spent {p} on {m} {d}",
    "two thousand and {r} was a good year",
    "the reference is {c}{r}",
    "model number X{c}",
]


def negative(rng: random.Random, template: str) -> str:
    values = {
        "o": rng.randrange(1000, 1100),
        "q": rng.randrange(2, 40),
        "m": rng.choice(MONTHS),
        "d": rng.randrange(1, 29),
        "h": rng.randrange(1, 12),
        "h2": rng.randrange(1, 12),
        "dn": rng.choice(ORDINALS),
        "c": rng.randrange(100000, 999999),
        "p": rng.randrange(5, 2000),
        "cents": rng.randrange(10, 99),
        "x": ONES[rng.randrange(10)],
        "y": ONES[rng.randrange(10)],
        "r": rng.randrange(1, 6),
        "y4": rng.randrange(2020, 2027),
        "sp": say_digits(str(rng.randrange(1000, 1100)), rng),
    }
    return template.format(**values)


def build(seed: int = 13) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for kind, (gen, templates) in TEMPLATES.items():
        for form in ("written", "spoken"):
            for k in range(PER_FORM):
                written, spoken = gen(rng)
                value = written if form == "written" else spoken
                template = templates[k % len(templates)]
                if form == "spoken":
                    template = template.lower()
                start = template.index("{}")
                text = template.replace("{}", value)
                rows.append(
                    {
                        "text": text,
                        "form": form,
                        "spans": [{"type": kind, "start": start, "end": start + len(value)}],
                    }
                )
    # cards said with their expiry and CVV: three spans in one sentence
    for _ in range(10):
        number, _spoken = gen_card(rng)
        month, year, cvv = rng.randrange(1, 13), rng.randrange(25, 32), f"{rng.randrange(100, 1000)}"
        parts = ["card ", number, " expires ", f"{month:02d}/{year}", " security code ", cvv]
        text, spans, pos = "", [], 0
        for i, part in enumerate(parts):
            if i % 2:
                spans.append({"type": "payment_card", "start": pos, "end": pos + len(part)})
            text += part
            pos += len(part)
        rows.append({"text": text, "form": "written", "spans": spans})
    for k in range(200):
        rows.append({"text": negative(rng, NEGATIVES[k % len(NEGATIVES)]), "form": "negative", "spans": []})
    return rows


if __name__ == "__main__":
    rows = build()
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} examples to {OUT}")
