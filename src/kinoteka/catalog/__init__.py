"""The catalog: films, genres, persons and their credits, in the PostgreSQL schema `content`."""
