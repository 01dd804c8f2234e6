"""Custom components: the drawing pad (a canvas that sends its PNG) and the answer beside it."""
