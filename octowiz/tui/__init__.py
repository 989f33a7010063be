"""The Textual wizard. Only this package imports Textual."""
