"""latentscape.landscape"""
