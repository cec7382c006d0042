"""Entry point Dify's plugin daemon starts (`python -m main`)."""

from dify_plugin import DifyPluginEnv, Plugin

# Embedding a large upload can take minutes on a CPU server; the per-request timeout is set in the credentials.
plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=600))

if __name__ == "__main__":
    plugin.run()
