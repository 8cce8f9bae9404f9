"""Text as a reader types it: the one normalisation (``normalize``), the one word tokeniser (``tokens``), and
Persian/Arabic letter forms, digits and the language of a text (``persian``, ``lang``).

Stored text and queries go through the same functions, so what a PDF spells with typography (ligatures, soft
hyphens, a word broken over a line) and what a reader types meet on the same letters.
"""
