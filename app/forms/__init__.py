"""Forms that pages share."""
