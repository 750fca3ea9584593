"""The viewer's cinema in the browser: server-rendered pages, the player, page sessions.

The player's events (schema in `kinoteka.analytics.schemas`) are posted to the page route
`POST /web/events` (cookie session + CSRF token) and handed to the analytics collector, whose
accepted `progress` heartbeats become ugc's watch progress (`viewing.py`); the film and account
pages show and write ugc's bookmarks, ratings and reviews (`opinions.py`). Nothing here is
meant to be imported by other contexts.
"""
