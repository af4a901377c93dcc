"""Things that train in weight space: curve models, fast geometric ensembling."""
