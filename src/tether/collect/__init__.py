"""tether.collect"""
