"""The terminal app: thin screens over the engine. The only package that imports Textual."""
