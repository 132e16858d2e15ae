"""Importers: read what already exists (an OpenAPI document, a database schema) into
designkit design data, with notes on whatever they could not carry over."""
