"""What users touch: the command line and what the explorer app shows."""
