"""tether.report"""
