"""Text as a reader types it: the one normalisation (``normalize``) and the one word tokeniser (``tokens``).

Stored text and queries go through the same functions, so what a PDF spells with typography (ligatures, soft
hyphens, a word broken over a line) and what a reader types meet on the same letters.
"""
