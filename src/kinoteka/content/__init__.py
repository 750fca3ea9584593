"""The public read API over the search index: films, genres, persons, search."""
