"""Credit-information warehouse."""
