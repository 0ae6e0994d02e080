"""Example missions, agents and data, shipped as package data so `hopflow demo` runs from a wheel."""
