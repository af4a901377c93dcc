"""latentscape.data"""
