"""The thin ``fpgatag`` command line. Each stage's commands live in their own module here."""
