"""The viewer's cinema in the browser: server-rendered pages, the player, page sessions.

The player's events (schema in `kinoteka.analytics.schemas`) are posted to the page route
`POST /web/events` (cookie session + CSRF token) and handed to the analytics collector;
nothing here is meant to be imported by other contexts.
"""
