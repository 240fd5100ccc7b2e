"""Text for people, in one place (`words`)."""
