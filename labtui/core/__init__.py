"""The headless engine: parsing, staging, manifest, histories, validation. Never imports a UI library."""
