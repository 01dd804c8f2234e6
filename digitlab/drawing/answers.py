"""What the Draw page says of a model's ten probabilities: the digit, "not sure" between two, "one digit?", "too
small", or "not a digit?"."""

SURE = 0.6  # below this top probability the answer is "not sure", with the two likeliest digits


def reading(probs, digits: int = 1, small: bool = False, other: bool = False) -> dict:
    """What the Draw page says of ten class probabilities: the digit, or "not sure" between the two likeliest; or,
    when the drawing holds several digits side by side (digits > 1), that the model reads one digit at a time; or,
    when its ink is too small to read (preprocess.too_small: a dot scaled up reads as a 0), to draw bigger; or, when
    the gate (gate.py) finds it like none of the ten digits (other), that it may not be a digit. digit: the model's
    likeliest; guess: the label the pad's Save offers first (none for a dot or a non-digit)."""
    p = [float(v) for v in probs]
    first, second = sorted(range(10), key=lambda k: -p[k])[:2]
    if small:
        return {"digit": first, "guess": None, "sure": False, "headline": "too small",
                "detail": "draw bigger: fill about half of the pad", "short": "too small"}
    if digits > 1:
        return {"digit": first, "guess": first, "sure": False, "headline": "one digit?",
                "detail": f"{digits} digits side by side: the model reads one digit at a time", "short": "one digit?"}
    if other:
        return {"digit": first, "guess": None, "sure": False, "headline": "not a digit?",
                "detail": f"it looks like none of 0-9 (the model would say {first}, {p[first]:.0%})",
                "short": "not a digit?"}
    if p[first] >= SURE:
        return {"digit": first, "guess": first, "sure": True, "headline": str(first), "detail": f"{p[first]:.1%} confident",
                "short": f"{first} · {p[first]:.0%}"}
    return {"digit": first, "guess": first, "sure": False, "headline": f"{first} or {second}?",
            "detail": f"not sure: {p[first]:.0%} {first}, {p[second]:.0%} {second}", "short": f"{first} or {second}?"}
