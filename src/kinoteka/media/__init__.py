"""Media: video uploads, transcoding to adaptive streams, artwork, playback."""
