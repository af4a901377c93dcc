"""latentscape.train"""
