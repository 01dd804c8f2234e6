"""Views that pages share."""
