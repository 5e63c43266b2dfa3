"""Write the small ATIS-style sample in data/sample (deterministic; rerun to regenerate).

Every sentence is built from templates written for slotfill, in the benchmark folder format:
``{train,valid,test}/{seq.in,seq.out,label}``. The same cities appear as departures and
arrivals, so only context tells them apart.
"""

from __future__ import annotations

import random
from pathlib import Path

from templates import fill, write_split

CITIES = [
    "boston",
    "denver",
    "dallas",
    "taipei",
    "atlanta",
    "seattle",
    "new york",
    "san francisco",
    "oakland",
    "pittsburgh",
    "baltimore",
    "philadelphia",
]
DAYS = ["monday", "tuesday", "friday", "sunday"]
AIRLINES = ["delta", "united", "american airlines"]

# (template, intent): {from}/{to}/{day}/{airline} are slots, every other word is O
TEMPLATES = [
    ("i want to leave {from}", "atis_flight"),
    ("i want to arrive in {to}", "atis_flight"),
    ("i want to leave {from} and arrive in {to}", "atis_flight"),
    ("i want to fly from {from} to {to}", "atis_flight"),
    ("show me flights from {from} to {to} on {day}", "atis_flight"),
    ("flights leaving {from} arriving in {to}", "atis_flight"),
    ("which {airline} flights go to {to}", "atis_flight"),
    ("list {airline} flights from {from}", "atis_flight"),
    ("what is the cheapest fare from {from} to {to}", "atis_airfare"),
    ("how much does a ticket to {to} cost on {day}", "atis_airfare"),
    ("what ground transportation is there in {city}", "atis_ground_service"),
    ("i need a flight departing {from} on {day}", "atis_flight"),
    ("i would like to arrive in {to} on {aday}", "atis_flight"),
]
SLOT = {
    "from": "fromloc.city_name",
    "to": "toloc.city_name",
    "day": "depart_date.day_name",
    "aday": "arrive_date.day_name",
    "airline": "airline_name",
    "city": "city_name",
}


def realise(template: str, rng: random.Random) -> tuple[list[str], list[str]]:
    a, b = rng.sample(CITIES, 2)
    values = {"from": a, "to": b, "city": a, "day": rng.choice(DAYS), "airline": rng.choice(AIRLINES)}
    values["aday"] = values["day"]  # one day per sentence; keeps the random stream unchanged
    return fill(template, values, SLOT)


def main(out: Path = Path(__file__).parent / "sample") -> None:
    rng = random.Random(0)
    sizes = {"train": 60, "valid": 20, "test": 20}
    fixed = {
        "test": [
            ("i want to leave taipei", "O O O O B-fromloc.city_name", "atis_flight"),
            ("i want to arrive in taipei", "O O O O O B-toloc.city_name", "atis_flight"),
        ]
    }
    for split, n in sizes.items():
        rows = list(fixed.get(split, []))
        while len(rows) < n:
            template, intent = TEMPLATES[len(rows) % len(TEMPLATES)]
            tokens, tags = realise(template, rng)
            rows.append((" ".join(tokens), " ".join(tags), intent))
        write_split(out / split, rows)


if __name__ == "__main__":
    main()
