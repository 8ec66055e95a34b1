"""PDF documents of the case file, drawn with reportlab in a deterministic way."""
