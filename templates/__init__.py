"""Card templates, CSS and the map template, shipped as package data."""
