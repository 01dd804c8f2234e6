"""A class on one machine: the roster, who may do what, session tokens, HTTPS, the app's start-up."""
