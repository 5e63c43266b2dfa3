"""Write data/unseen_cities: ATIS-style queries about cities ATIS never mentions.

The slot tagger must tell departures from arrivals by context alone when the city is a word
it never saw (the world beyond 1990s US airports). Templates follow ATIS phrasing and tag
conventions; every city here is absent from the ATIS train/valid/test text. Deterministic:
rerun to regenerate. Evaluate with
``slotfill evaluate ckpt=... split_dir=data/unseen_cities/test``.
"""

from __future__ import annotations

import random
from pathlib import Path

from templates import fill, write_split

CITIES = [
    "taipei",
    "nairobi",
    "reykjavik",
    "lisbon",
    "kyoto",
    "lagos",
    "lima",
    "oslo",
    "perth",
    "quito",
    "hanoi",
    "dakar",
    "krakow",
    "manila",
    "tbilisi",
    "accra",
    "bogota",
    "helsinki",
    "cusco",
    "zagreb",
    "buenos aires",
    "hong kong",
    "kuala lumpur",
    "rio de janeiro",
    "cape town",
    "tel aviv",
    "sao paulo",
    "abu dhabi",
    "ho chi minh city",
    "addis ababa",
]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PERIODS = ["morning", "afternoon", "evening"]

# {from} {to} {stop} {city}: cities; {day}/{aday}: departure/arrival day; {period}: departure period of day
TEMPLATES = [
    ("show me flights from {from} to {to}", "atis_flight"),
    ("i want to leave {from} and arrive in {to}", "atis_flight"),
    ("i would like to fly from {from} to {to} on {day}", "atis_flight"),
    ("what flights go from {from} to {to} {day} {period}", "atis_flight"),
    ("i need a flight to {to} from {from}", "atis_flight"),
    ("list the flights arriving in {to} from {from}", "atis_flight"),
    ("what flights leave {from} for {to}", "atis_flight"),
    ("i'd like to go from {from} to {to} stopping in {stop}", "atis_flight"),
    ("what is the cheapest flight from {from} to {to}", "atis_flight"),
    ("show me the earliest flight from {from} to {to}", "atis_flight"),
    ("nonstop flights {from} to {to}", "atis_flight"),
    ("what are the round trip fares from {from} to {to}", "atis_airfare"),
    ("how much is a ticket from {from} to {to}", "atis_airfare"),
    ("ground transportation in {city}", "atis_ground_service"),
    ("what flights arrive in {to} on {aday}", "atis_flight"),
    ("flights departing {from} on {day} {period}", "atis_flight"),
    ("i want to fly to {to}", "atis_flight"),
    ("show me all the flights leaving {from}", "atis_flight"),
]
WORD_TAGS = {
    "cheapest": "B-cost_relative",
    "earliest": "B-flight_mod",
    "nonstop": "B-flight_stop",
}
PHRASE_TAGS = {("round", "trip"): ["B-round_trip", "I-round_trip"]}
SLOTS = {
    "from": "fromloc.city_name",
    "to": "toloc.city_name",
    "stop": "stoploc.city_name",
    "city": "city_name",
    "day": "depart_date.day_name",
    "aday": "arrive_date.day_name",
    "period": "depart_time.period_of_day",
}


def realise(template: str, rng: random.Random) -> tuple[list[str], list[str]]:
    a, b, c = rng.sample(CITIES, 3)
    values = {"from": a, "to": b, "stop": c, "city": a, "day": rng.choice(DAYS), "period": rng.choice(PERIODS)}
    values["aday"] = values["day"]  # one day per sentence
    tokens, tags = fill(template, values, SLOTS, WORD_TAGS)
    for i in range(len(tokens) - 1):
        phrase = PHRASE_TAGS.get((tokens[i], tokens[i + 1]))
        if phrase:
            tags[i : i + 2] = phrase
    return tokens, tags


def main(out: Path = Path(__file__).parent / "unseen_cities" / "test", per_template: int = 8) -> None:
    rng = random.Random(1990)
    rows = []
    for template, intent in TEMPLATES:
        for _ in range(per_template):
            tokens, tags = realise(template, rng)
            rows.append((" ".join(tokens), " ".join(tags), intent))
    write_split(out, rows)


if __name__ == "__main__":
    main()
