"""Screens of qdtui."""
