"""tether.sim"""
