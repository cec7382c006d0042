"""The web console at /ui/: its routes, its static files and the Connect panel."""
