"""Offline commands of ``bge-local`` (download, doctor, package-plugin, make-test-models). ``serve`` never imports
anything from here."""
