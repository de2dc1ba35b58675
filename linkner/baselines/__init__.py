"""Baselines a user would reach for instead of LinkNER (trained and run by ``linkner bench``)."""
