"""linernotes-tuning plugin: its commands are added here."""
