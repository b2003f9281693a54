"""tether.reward"""
