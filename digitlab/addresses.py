"""What an address (a link a person may have typed or altered) names, read defensively."""


def ids_in(text: str, most: int = 50) -> list[int]:
    """Run ids from an address ('3,4,12'): whatever is not a plain number is left out, and no more than `most`."""
    parts = str(text)[:1000].split(",")
    return [int(p) for p in parts if p.isascii() and p.isdigit() and len(p) <= 9][:most]
