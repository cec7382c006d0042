"""The HTTP kernel: what every route stands on (errors, responses, the API key, the request frame)."""
