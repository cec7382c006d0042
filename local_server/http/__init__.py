"""The HTTP kernel, below every dialect: errors, responses, the API key, the request frame, routers by task."""
