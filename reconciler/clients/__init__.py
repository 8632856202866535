"""API clients: one shared HTTP layer, an Aculab Cloud client and an aql relay client."""
