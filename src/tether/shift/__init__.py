"""tether.shift"""
