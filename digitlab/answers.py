"""What the Draw page says of a model's ten probabilities: the digit, "not sure" between two, or "one digit?"."""

SURE = 0.6  # below this top probability the answer is "not sure", with the two likeliest digits


def reading(probs, digits: int = 1) -> dict:
    """What the Draw page says of ten class probabilities: the digit, or "not sure" between the two likeliest; or,
    when the drawing holds several digits side by side (digits > 1), that the model reads one digit at a time."""
    p = [float(v) for v in probs]
    first, second = sorted(range(10), key=lambda k: -p[k])[:2]
    if digits > 1:
        return {"digit": first, "sure": False, "headline": "one digit?",
                "detail": f"{digits} digits side by side: the model reads one digit at a time", "short": "one digit?"}
    if p[first] >= SURE:
        return {"digit": first, "sure": True, "headline": str(first), "detail": f"{p[first]:.1%} confident",
                "short": f"{first} · {p[first]:.0%}"}
    return {"digit": first, "sure": False, "headline": f"{first} or {second}?",
            "detail": f"not sure: {p[first]:.0%} {first}, {p[second]:.0%} {second}", "short": f"{first} or {second}?"}
