#!/usr/bin/env python3
"""Health probe for Docker's HEALTHCHECK (and anything else): exit 0 once GET /health answers 200.

/health answers 503 while the models load and 200 once they serve, so "healthy" means "ready".
Standard library only, and no proxy: an HTTP(S)_PROXY set for model downloads must not swallow a request
to 127.0.0.1. Port from BGE_LOCAL_PORT (default 8000), or the whole URL from BGE_LOCAL_HEALTH_URL.
"""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    port = os.environ.get("BGE_LOCAL_PORT") or "8000"
    url = os.environ.get("BGE_LOCAL_HEALTH_URL") or f"http://127.0.0.1:{port}/health"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=float(os.environ.get("BGE_LOCAL_HEALTH_TIMEOUT") or 5)) as response:
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {url} answered {exc.code}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {getattr(exc, 'reason', exc)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
