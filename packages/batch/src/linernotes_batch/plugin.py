"""linernotes-batch plugin: its commands are added here."""
