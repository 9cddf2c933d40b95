"""Clips: choosing the moments of an analysed video worth posting, and cutting them out."""
