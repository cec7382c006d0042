"""What each client sends and expects: shared by `serve` (the console) and the tools (the doctor)."""
