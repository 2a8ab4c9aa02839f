"""Regia: the desk of a social-media marketing agency."""
