"""tether.raters"""
