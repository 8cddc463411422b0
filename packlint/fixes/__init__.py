"""Building edits for fixes, and applying them to a file."""
