"""tether.outcomes"""
