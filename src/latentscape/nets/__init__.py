"""latentscape.nets"""
