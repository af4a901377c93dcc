"""latentscape.metrics"""
