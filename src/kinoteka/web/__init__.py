"""The viewer's cinema in the browser: server-rendered pages, the player, page sessions.

Public surface for other contexts: `kinoteka.web.events` documents the player-event schema
(version 1) the activity context will take over; nothing else is meant to be imported.
"""
