"""Seed 000's knowledge layer as units of work: plan runs, reflections, thoughts, retention."""
