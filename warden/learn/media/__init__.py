"""Training data and fitting for the media path: rendered memes and the multimodal fusion (offline;
the serving side is `warden.media`)."""
