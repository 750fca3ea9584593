"""Identity for the whole platform: accounts, roles, JWTs with JWKS, sessions, login history."""
