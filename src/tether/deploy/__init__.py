"""tether.deploy"""
