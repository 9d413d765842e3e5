"""labtui: a terminal app and staging engine for a graphene-FET lab's measurement files."""

__version__ = "0.1.0"
