"""latentscape.models"""
