"""tether.loop"""
