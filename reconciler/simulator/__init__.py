"""A faithful, stateful simulator of the Aculab Cloud web services and the aql relay gateway."""
