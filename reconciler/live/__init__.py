"""Live state: read the whole account into one consistent snapshot."""
